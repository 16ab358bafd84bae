DROP TABLE deadline_policies;
