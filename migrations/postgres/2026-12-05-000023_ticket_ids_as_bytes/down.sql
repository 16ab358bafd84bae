-- Ticket ids back under the database's default collation.
ALTER TABLE tickets
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN merged_into TYPE TEXT COLLATE "default";
ALTER TABLE ticket_events ALTER COLUMN ticket_id TYPE TEXT COLLATE "default";
ALTER TABLE ticket_deadlines ALTER COLUMN ticket_id TYPE TEXT COLLATE "default";
ALTER TABLE ticket_search ALTER COLUMN ticket_id TYPE TEXT COLLATE "default";
ALTER TABLE ticket_co_handlers ALTER COLUMN ticket_id TYPE TEXT COLLATE "default";
ALTER TABLE ticket_attachments ALTER COLUMN ticket_id TYPE TEXT COLLATE "default";
ALTER TABLE hotspot_tickets ALTER COLUMN ticket_id TYPE TEXT COLLATE "default";
ALTER TABLE intake_keys ALTER COLUMN ticket_id TYPE TEXT COLLATE "default";
ALTER TABLE supervision_flags ALTER COLUMN ticket_id TYPE TEXT COLLATE "default";
ALTER TABLE callbacks
    ALTER COLUMN ticket_id TYPE TEXT COLLATE "default",
    ALTER COLUMN citizen_ticket_id TYPE TEXT COLLATE "default";
ALTER TABLE callback_attempts ALTER COLUMN ticket_id TYPE TEXT COLLATE "default";
ALTER TABLE outbox ALTER COLUMN ticket_id TYPE TEXT COLLATE "default";
ALTER TABLE access_log ALTER COLUMN ticket_id TYPE TEXT COLLATE "default";
ANALYZE tickets, ticket_events, ticket_deadlines, ticket_search, ticket_co_handlers,
    ticket_attachments, hotspot_tickets, intake_keys, supervision_flags, callbacks,
    callback_attempts, outbox, access_log;
