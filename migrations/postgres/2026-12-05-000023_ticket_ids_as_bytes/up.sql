-- Ticket ids compare as bytes (COLLATE "C"), in `tickets` and in every column that holds one.
--
-- An id is a UUID's hyphenated hex text: its order is the same under the database's default
-- collation (C.UTF-8 here) and under "C", so no answer changes (SQLite compares text as bytes
-- already). What changes is the cost: PostgreSQL 15 compares text under a libc collation other
-- than "C" through strcoll() and cannot use abbreviated keys when it sorts, so every B-tree
-- descent on an id and every sort of ids paid for a locale it does not need. The largest case:
-- a department's search or list for a word concentrated in it gathers its matches
-- (`tickets.id = ANY(ARRAY(…))`, tens of thousands of ids), which PostgreSQL sorts before it
-- walks `tickets_pkey`; that sort was about half the query (docs/benchmarks.md, "The ninth
-- round").
--
-- Every column holding a ticket id changes together: a B-tree index serves a comparison only
-- under its own collation, so `ticket_events.ticket_id = tickets.id` with one side "C" and the
-- other the default would be compared under "C" and could no longer use the index on
-- `ticket_events (ticket_id, …)`. The test `ticket_ids_order_as_bytes` keeps it so for
-- columns added later.
--
-- Changing a column's type drops its statistics, and autovacuum analyses a table only after
-- enough rows change: without the ANALYZE at the end the planner guessed thousands of deadlines a
-- ticket (a page's deadlines planned as half a million rows, then compiled by JIT: 30-136 ms
-- instead of 0.3 ms).
--
-- No table is rewritten (text to text), but each index on these columns is built again and the
-- foreign keys are checked again: 12 s for the million tickets of `hotline load --fill 1000000`.
ALTER TABLE tickets
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN merged_into TYPE TEXT COLLATE "C";
ALTER TABLE ticket_events ALTER COLUMN ticket_id TYPE TEXT COLLATE "C";
ALTER TABLE ticket_deadlines ALTER COLUMN ticket_id TYPE TEXT COLLATE "C";
ALTER TABLE ticket_search ALTER COLUMN ticket_id TYPE TEXT COLLATE "C";
ALTER TABLE ticket_co_handlers ALTER COLUMN ticket_id TYPE TEXT COLLATE "C";
ALTER TABLE ticket_attachments ALTER COLUMN ticket_id TYPE TEXT COLLATE "C";
ALTER TABLE hotspot_tickets ALTER COLUMN ticket_id TYPE TEXT COLLATE "C";
ALTER TABLE intake_keys ALTER COLUMN ticket_id TYPE TEXT COLLATE "C";
ALTER TABLE supervision_flags ALTER COLUMN ticket_id TYPE TEXT COLLATE "C";
ALTER TABLE callbacks
    ALTER COLUMN ticket_id TYPE TEXT COLLATE "C",
    ALTER COLUMN citizen_ticket_id TYPE TEXT COLLATE "C";
ALTER TABLE callback_attempts ALTER COLUMN ticket_id TYPE TEXT COLLATE "C";
ALTER TABLE outbox ALTER COLUMN ticket_id TYPE TEXT COLLATE "C";
ALTER TABLE access_log ALTER COLUMN ticket_id TYPE TEXT COLLATE "C";
ANALYZE tickets, ticket_events, ticket_deadlines, ticket_search, ticket_co_handlers,
    ticket_attachments, hotspot_tickets, intake_keys, supervision_flags, callbacks,
    callback_attempts, outbox, access_log;
