-- The closing half of the loop (docs/callbacks.md): the callback to each citizen, its attempts,
-- the verdict on the ticket, and supervision flags.
ALTER TABLE tickets ADD COLUMN callback_result TEXT;
ALTER TABLE tickets ADD COLUMN satisfaction TEXT;
ALTER TABLE tickets ADD COLUMN resolved BOOLEAN;
ALTER TABLE tickets ADD COLUMN redo_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN reopen_count INTEGER NOT NULL DEFAULT 0;

-- One callback per distinct citizen of a replied ticket (its own, and those of the tickets merged
-- into it). state: pending -> done | unreachable | cancelled. A claim (claimed_by until
-- claim_expires_at) gives one operator the call.
CREATE TABLE callbacks (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    citizen_ticket_id TEXT NOT NULL REFERENCES tickets (id),
    citizen_key TEXT NOT NULL,
    -- the ticket version of the reply that opened it: one round per reply
    reply_seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    claimed_by TEXT REFERENCES users (id),
    claim_expires_at TIMESTAMP,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    channel TEXT,
    satisfaction TEXT,
    resolved BOOLEAN,
    created_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP
);
CREATE INDEX callbacks_pending ON callbacks (ticket_id) WHERE state = 'pending';
CREATE INDEX callbacks_by_ticket ON callbacks (ticket_id, created_at);

CREATE TABLE callback_attempts (
    id TEXT PRIMARY KEY,
    callback_id TEXT NOT NULL REFERENCES callbacks (id),
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    operator_id TEXT REFERENCES users (id),
    api_client_id TEXT REFERENCES api_clients (id),
    channel TEXT NOT NULL,
    outcome TEXT NOT NULL,
    satisfaction TEXT,
    resolved BOOLEAN,
    comment TEXT,
    started_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX callback_attempts_by_callback ON callback_attempts (callback_id, started_at);
CREATE INDEX callback_attempts_by_operator ON callback_attempts (operator_id, started_at);

-- Supervision (督办): a supervisor's flag with an instruction, a level and a due time; the lead
-- department answers it; urges are counted. Its deadline is a ticket_deadlines row (step
-- 'supervision'), so the sweeper warns yellow and red.
CREATE TABLE supervision_flags (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    level TEXT NOT NULL,
    instruction TEXT NOT NULL,
    due_at TIMESTAMP NOT NULL,
    deadline_id TEXT NOT NULL,
    flagged_by TEXT NOT NULL REFERENCES users (id),
    flagged_at TIMESTAMP NOT NULL,
    urge_count INTEGER NOT NULL DEFAULT 0,
    response TEXT,
    responded_by TEXT REFERENCES users (id),
    responded_at TIMESTAMP,
    cleared_by TEXT REFERENCES users (id),
    cleared_at TIMESTAMP,
    clear_reason TEXT
);
CREATE INDEX supervision_flags_by_ticket ON supervision_flags (ticket_id);
CREATE INDEX supervision_flags_open ON supervision_flags (due_at) WHERE cleared_at IS NULL;
