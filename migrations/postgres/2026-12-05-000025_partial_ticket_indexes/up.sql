-- The indexes of `tickets` on columns an intake leaves empty hold only the tickets that have a
-- value. Every query that uses them compares the column with a value (`=`, a range), which
-- PostgreSQL knows implies IS NOT NULL, so each still serves it; what goes is an entry for
-- every ticket without one: a ticket taken in had six index entries written for nothing (no
-- assignee, department or merge yet; a call has no mini-program user, a submission no caller
-- number), and the assignee index held a million empty entries (45 of its 45 MB) on the
-- benchmark database (docs/benchmarks.md, "The ninth round").
DROP INDEX tickets_assignee_idx;
CREATE INDEX tickets_assignee_idx ON tickets (assignee_id, status, id) WHERE assignee_id IS NOT NULL;
DROP INDEX tickets_lead_department_idx;
CREATE INDEX tickets_lead_department_idx ON tickets (lead_department_id, status, id)
    WHERE lead_department_id IS NOT NULL;
DROP INDEX tickets_lead_path_idx;
CREATE INDEX tickets_lead_path_idx ON tickets (lead_department_path)
    WHERE lead_department_path IS NOT NULL;
DROP INDEX tickets_merged_into_idx;
CREATE INDEX tickets_merged_into_idx ON tickets (merged_into) WHERE merged_into IS NOT NULL;
DROP INDEX tickets_caller_number_idx;
CREATE INDEX tickets_caller_number_idx ON tickets (caller_number) WHERE caller_number IS NOT NULL;
DROP INDEX tickets_open_id_idx;
CREATE INDEX tickets_open_id_idx ON tickets (citizen_open_id) WHERE citizen_open_id IS NOT NULL;
DROP INDEX tickets_phone_idx;
CREATE INDEX tickets_phone_idx ON tickets (citizen_phone) WHERE citizen_phone IS NOT NULL;
