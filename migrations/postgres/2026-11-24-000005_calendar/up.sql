-- Business-calendar years edited by admins through the API; they override the year files the
-- binary ships (config/calendar/). Every edit is recorded with who made it.
CREATE TABLE calendar_years (
    year INTEGER PRIMARY KEY,
    holidays TEXT NOT NULL,
    workdays TEXT NOT NULL,
    updated_by TEXT REFERENCES users (id),
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE calendar_changes (
    id TEXT PRIMARY KEY,
    year INTEGER NOT NULL,
    before TEXT,
    after TEXT NOT NULL,
    changed_by TEXT REFERENCES users (id),
    changed_at TIMESTAMP NOT NULL
);
CREATE INDEX calendar_changes_year ON calendar_changes (year, id);
