-- Notifications (docs/notifications.md). The outbox is written in the same transaction as the
-- ticket event that causes the message, so a crash after the commit loses nothing and a rolled-
-- back action sends nothing. One row per message and recipient; its id is the idempotency id
-- receivers see. state: queued -> sending -> delivered, or -> retrying -> ... -> dead.
-- A 'sending' row whose lease (next_attempt_at) has passed belongs to a crashed worker and is
-- claimed again.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    event_type TEXT NOT NULL,
    template TEXT,
    recipient TEXT NOT NULL,
    ticket_id TEXT,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    dedupe_key TEXT UNIQUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP
);
-- what the worker claims: only the undelivered rows, by due time
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE state IN ('queued', 'retrying', 'sending');
-- the admin list by state, newest first
CREATE INDEX outbox_by_state ON outbox (state, id);
CREATE INDEX outbox_by_ticket ON outbox (ticket_id);

-- Webhook subscribers (the mini-program gateway, an SMS gateway, ...), managed by admins.
-- event_types: a JSON array of event type names; contact: which citizen contact field the
-- subscriber receives ('none', 'open_id' or 'phone').
CREATE TABLE webhook_subscriptions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    event_types TEXT NOT NULL,
    secret TEXT NOT NULL,
    contact TEXT NOT NULL DEFAULT 'none',
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_by TEXT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Once-a-day jobs (the departments' digest): the row claims the run across instances.
CREATE TABLE job_runs (
    job TEXT NOT NULL,
    run_key TEXT NOT NULL,
    done_at TIMESTAMP NOT NULL,
    PRIMARY KEY (job, run_key)
);
