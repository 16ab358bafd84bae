-- The indicators count tickets with a return, a reply, a direct answer (docs/indicators.md):
-- those events alone, by ticket, without reading the rest of the log.
CREATE INDEX ticket_events_marks ON ticket_events (ticket_id, action)
    WHERE action IN ('return', 'reply', 'direct_answer');
