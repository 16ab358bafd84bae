DROP INDEX ticket_events_marks;
