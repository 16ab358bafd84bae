-- The indexes of `tickets` on columns an intake leaves empty hold only the tickets that have a
-- value, as on PostgreSQL (same migration there). Every query that uses them compares the column
-- with a value (`=`, a range), from which SQLite knows `IS NOT NULL` holds, so each still serves
-- it. Beside the six index entries an intake no longer writes, SQLite's statistics now describe
-- the tickets that have a value: with most tickets lacking one (no mini-program user, not merged,
-- or a fill without phones), `ANALYZE` counted hundreds of thousands of rows a value and SQLite
-- scanned the table for a look-up by phone or by mini-program user (354 and 282 ms at a million
-- tickets, 1 ms and less after; docs/benchmarks.md, "The ninth round").
DROP INDEX tickets_assignee_idx;
CREATE INDEX tickets_assignee_idx ON tickets (assignee_id, status, id) WHERE assignee_id IS NOT NULL;
DROP INDEX tickets_lead_department_idx;
CREATE INDEX tickets_lead_department_idx ON tickets (lead_department_id, status, id)
    WHERE lead_department_id IS NOT NULL;
DROP INDEX tickets_lead_path_idx;
CREATE INDEX tickets_lead_path_idx ON tickets (lead_department_path, id)
    WHERE lead_department_path IS NOT NULL;
DROP INDEX tickets_merged_into_idx;
CREATE INDEX tickets_merged_into_idx ON tickets (merged_into) WHERE merged_into IS NOT NULL;
DROP INDEX tickets_caller_number_idx;
CREATE INDEX tickets_caller_number_idx ON tickets (caller_number) WHERE caller_number IS NOT NULL;
DROP INDEX tickets_open_id_idx;
CREATE INDEX tickets_open_id_idx ON tickets (citizen_open_id) WHERE citizen_open_id IS NOT NULL;
DROP INDEX tickets_phone_idx;
CREATE INDEX tickets_phone_idx ON tickets (citizen_phone) WHERE citizen_phone IS NOT NULL;
