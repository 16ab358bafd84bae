DROP INDEX tickets_lead_path_idx;
CREATE INDEX tickets_lead_path_idx ON tickets (lead_department_path);
