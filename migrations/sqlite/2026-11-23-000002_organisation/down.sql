DROP TABLE routing_rule_changes;
DROP TABLE routing_rules;
DROP TABLE categories;
DROP TABLE regions;
DROP INDEX users_department_id_idx;
ALTER TABLE users DROP COLUMN department_id;
DROP TABLE departments;
