DROP TABLE ticket_deadlines;
