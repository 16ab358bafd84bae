-- Ledger export jobs (docs/indicators.md "Ledgers"): a long ledger is written by a background job
-- whose progress the requester polls; the file stays under data_dir/exports until it expires.
-- state: queued -> running -> done | failed (-> expired when the file is removed).
CREATE TABLE exports (
    id TEXT PRIMARY KEY,
    requested_by TEXT NOT NULL REFERENCES users (id),
    period TEXT NOT NULL,
    -- the department subtree, resolved against the requester's visibility at request time
    department_id TEXT REFERENCES departments (id),
    department_path TEXT,
    format TEXT NOT NULL,
    state TEXT NOT NULL,
    rows_total BIGINT,
    rows_written BIGINT NOT NULL DEFAULT 0,
    file_name TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- a running job renews its lease; one whose lease ran out (a crashed process) is taken again
    lease_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP
);
CREATE INDEX exports_requester ON exports (requested_by, created_at);
CREATE INDEX exports_state ON exports (state, created_at);
