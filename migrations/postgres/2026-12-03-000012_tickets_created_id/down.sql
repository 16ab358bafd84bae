CREATE INDEX tickets_created_idx ON tickets (created_at);
DROP INDEX tickets_created_id;
