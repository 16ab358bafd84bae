-- The indexes of `tickets` hold every ticket again.
DROP INDEX tickets_assignee_idx;
CREATE INDEX tickets_assignee_idx ON tickets (assignee_id, status, id);
DROP INDEX tickets_lead_department_idx;
CREATE INDEX tickets_lead_department_idx ON tickets (lead_department_id, status, id);
DROP INDEX tickets_lead_path_idx;
CREATE INDEX tickets_lead_path_idx ON tickets (lead_department_path, id);
DROP INDEX tickets_merged_into_idx;
CREATE INDEX tickets_merged_into_idx ON tickets (merged_into);
DROP INDEX tickets_caller_number_idx;
CREATE INDEX tickets_caller_number_idx ON tickets (caller_number);
DROP INDEX tickets_open_id_idx;
CREATE INDEX tickets_open_id_idx ON tickets (citizen_open_id);
DROP INDEX tickets_phone_idx;
CREATE INDEX tickets_phone_idx ON tickets (citizen_phone);
