-- Keyset pages by intake time (ledgers, exports): (created_at, id) in one index, in page order.
CREATE INDEX tickets_created_id ON tickets (created_at, id);
DROP INDEX tickets_created_idx;
