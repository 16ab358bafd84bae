DROP TRIGGER ticket_events_append_only ON ticket_events;
DROP FUNCTION ticket_events_append_only();
DROP TABLE access_log;
DROP TABLE ticket_counters;
DROP TABLE intake_keys;
DROP TABLE ticket_attachments;
DROP TABLE ticket_events;
DROP TABLE ticket_co_handlers;
DROP TABLE tickets;
