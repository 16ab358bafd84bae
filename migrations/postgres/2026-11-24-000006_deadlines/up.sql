-- The deadline of each step of a ticket, computed when the step starts and kept with the limit
-- that produced it (a later policy change never moves a deadline already given). A completed
-- step keeps how late it was; nothing is forgiven.
CREATE TABLE ticket_deadlines (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    step TEXT NOT NULL,
    time_limit TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    due_at TIMESTAMP NOT NULL,
    yellow_at TIMESTAMP NOT NULL,
    paused_at TIMESTAMP,
    completed_at TIMESTAMP,
    overdue_minutes INTEGER,
    warned_yellow_at TIMESTAMP,
    warned_red_at TIMESTAMP
);
CREATE INDEX ticket_deadlines_ticket ON ticket_deadlines (ticket_id, step);
-- the open steps by due time (queues by time)
CREATE INDEX ticket_deadlines_open_due ON ticket_deadlines (due_at) WHERE completed_at IS NULL;
-- the steps that still owe a warning, by when the first is due: the sweeper reads only these,
-- so its cost follows the tickets coming due, not the size of the table
CREATE INDEX ticket_deadlines_to_warn ON ticket_deadlines (yellow_at)
    WHERE completed_at IS NULL AND warned_red_at IS NULL;

-- The soonest running deadline of each ticket (kept by the service as deadlines change): the
-- queues by time sort on it.
ALTER TABLE tickets ADD COLUMN next_due_at TIMESTAMP;
CREATE INDEX tickets_next_due ON tickets (next_due_at, id) WHERE next_due_at IS NOT NULL;
