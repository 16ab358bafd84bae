CREATE INDEX tickets_category_idx ON tickets (category_id);
