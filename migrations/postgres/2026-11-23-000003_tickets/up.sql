-- Tickets, their append-only event log, co-handlers, attachments, intake idempotency, the daily
-- number counters, and the access log of unmasked personal data.

CREATE TABLE tickets (
    id                     TEXT PRIMARY KEY,
    number                 TEXT NOT NULL UNIQUE,
    channel                TEXT NOT NULL,
    kind                   TEXT NOT NULL,
    urgency                TEXT NOT NULL,
    status                 TEXT NOT NULL,
    category_id            TEXT REFERENCES categories (id),
    -- JSON object: attribute code -> answer
    attributes             TEXT NOT NULL DEFAULT '{}',
    region_id              TEXT REFERENCES regions (id),
    address                TEXT,
    lat                    DOUBLE PRECISION,
    lng                    DOUBLE PRECISION,
    title                  TEXT NOT NULL,
    description            TEXT NOT NULL,
    citizen_name           TEXT,
    citizen_phone          TEXT,
    citizen_open_id        TEXT,
    anonymous              BOOLEAN NOT NULL DEFAULT FALSE,
    confidential           BOOLEAN NOT NULL DEFAULT FALSE,
    lead_department_id     TEXT REFERENCES departments (id),
    -- the lead department's tree path, for "my department and below" queues
    lead_department_path   TEXT COLLATE "C",
    assignee_id            TEXT REFERENCES users (id),
    merged_into            TEXT REFERENCES tickets (id),
    status_before_return   TEXT,
    -- extension of the handling deadline: requested | approved | rejected, and the days asked
    extension_state        TEXT,
    extension_days         INTEGER,
    reply                  TEXT,
    call_id                TEXT,
    caller_number          TEXT,
    call_started_at        TIMESTAMP,
    call_ended_at          TIMESTAMP,
    created_by             TEXT,
    api_client_id          TEXT,
    version                INTEGER NOT NULL,
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL,
    dispatched_at          TIMESTAMP,
    signed_at              TIMESTAMP,
    replied_at             TIMESTAMP,
    closed_at              TIMESTAMP
);
CREATE INDEX tickets_status_idx ON tickets (status, id);
CREATE INDEX tickets_lead_path_idx ON tickets (lead_department_path);
CREATE INDEX tickets_lead_department_idx ON tickets (lead_department_id, status, id);
CREATE INDEX tickets_assignee_idx ON tickets (assignee_id, status, id);
CREATE INDEX tickets_category_idx ON tickets (category_id);
CREATE INDEX tickets_region_idx ON tickets (region_id);
CREATE INDEX tickets_phone_idx ON tickets (citizen_phone);
CREATE INDEX tickets_caller_number_idx ON tickets (caller_number);
CREATE INDEX tickets_open_id_idx ON tickets (citizen_open_id);
CREATE INDEX tickets_created_idx ON tickets (created_at);
CREATE INDEX tickets_merged_into_idx ON tickets (merged_into);

CREATE TABLE ticket_co_handlers (
    ticket_id        TEXT NOT NULL REFERENCES tickets (id),
    department_id    TEXT NOT NULL REFERENCES departments (id),
    department_path  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (ticket_id, department_id)
);
CREATE INDEX ticket_co_handlers_path_idx ON ticket_co_handlers (department_path);

-- Append-only: rows are never updated or deleted.
CREATE TABLE ticket_events (
    id           TEXT PRIMARY KEY,
    ticket_id    TEXT NOT NULL REFERENCES tickets (id),
    seq          INTEGER NOT NULL,
    action       TEXT NOT NULL,
    actor_kind   TEXT NOT NULL,
    actor_id     TEXT,
    actor_role   TEXT,
    from_status  TEXT,
    to_status    TEXT NOT NULL,
    -- JSON object: what changed and why
    payload      TEXT NOT NULL,
    public       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   TIMESTAMP NOT NULL,
    UNIQUE (ticket_id, seq)
);

CREATE TABLE ticket_attachments (
    id            TEXT PRIMARY KEY,
    ticket_id     TEXT NOT NULL REFERENCES tickets (id),
    sha256        TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    filename      TEXT NOT NULL,
    uploaded_by   TEXT,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX ticket_attachments_ticket_idx ON ticket_attachments (ticket_id);

CREATE TABLE intake_keys (
    api_client_id  TEXT NOT NULL,
    key            TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    ticket_id      TEXT NOT NULL REFERENCES tickets (id),
    created_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (api_client_id, key)
);

CREATE TABLE ticket_counters (
    day   TEXT PRIMARY KEY,
    last  INTEGER NOT NULL
);

CREATE TABLE access_log (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    ticket_id   TEXT NOT NULL,
    fields      TEXT NOT NULL,
    reason      TEXT,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX access_log_ticket_idx ON access_log (ticket_id);
CREATE INDEX access_log_user_idx ON access_log (user_id);

-- The event log is append-only, enforced by the database too.
CREATE FUNCTION ticket_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ticket_events is append-only';
END
$$;
CREATE TRIGGER ticket_events_append_only BEFORE UPDATE OR DELETE ON ticket_events
    FOR EACH ROW EXECUTE FUNCTION ticket_events_append_only();
