-- Organisation, regions, service catalogue and routing rules.
-- Trees keep a materialised path of ids ('/<root id>/<child id>/'); it lists a node's ancestors
-- without a query and finds descendants with one prefix match.


CREATE TABLE departments (
    id              TEXT PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    level           TEXT NOT NULL,
    parent_id       TEXT REFERENCES departments (id),
    path            TEXT NOT NULL,
    -- JSON array of e-mail addresses
    contact_emails  TEXT NOT NULL DEFAULT '[]',
    duty_phone      TEXT,
    active          BOOLEAN NOT NULL DEFAULT 1,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX departments_parent_id_idx ON departments (parent_id);
CREATE INDEX departments_path_idx ON departments (path);

ALTER TABLE users ADD COLUMN department_id TEXT REFERENCES departments (id);
CREATE INDEX users_department_id_idx ON users (department_id);

CREATE TABLE regions (
    id          TEXT PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL,
    parent_id   TEXT REFERENCES regions (id),
    path        TEXT NOT NULL,
    center_lat  REAL,
    center_lng  REAL,
    -- GeoJSON geometry (Polygon or MultiPolygon) and its bounding box
    polygon     TEXT,
    min_lat     REAL,
    min_lng     REAL,
    max_lat     REAL,
    max_lng     REAL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX regions_parent_id_idx ON regions (parent_id);
CREATE INDEX regions_path_idx ON regions (path);
CREATE INDEX regions_bbox_idx ON regions (min_lat, max_lat, min_lng, max_lng);

CREATE TABLE categories (
    id                     TEXT PRIMARY KEY,
    code                   TEXT NOT NULL UNIQUE,
    name                   TEXT NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    -- JSON array of keywords
    keywords               TEXT NOT NULL DEFAULT '[]',
    default_kind           TEXT,
    default_department_id  TEXT REFERENCES departments (id),
    parent_id              TEXT REFERENCES categories (id),
    path                   TEXT NOT NULL,
    -- JSON object of per-category time limits, or NULL for the defaults
    time_limits            TEXT,
    -- JSON array of Open311-shaped attribute definitions
    attributes             TEXT NOT NULL DEFAULT '[]',
    active                 BOOLEAN NOT NULL DEFAULT 1,
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL
);
CREATE INDEX categories_parent_id_idx ON categories (parent_id);
CREATE INDEX categories_path_idx ON categories (path);

CREATE TABLE routing_rules (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    priority            INTEGER NOT NULL,
    category_id         TEXT REFERENCES categories (id),
    region_id           TEXT REFERENCES regions (id),
    kind                TEXT,
    -- JSON array; the rule matches when the text contains any of them (empty: no condition)
    keywords            TEXT NOT NULL DEFAULT '[]',
    lead_department_id  TEXT NOT NULL REFERENCES departments (id),
    -- JSON array of department ids
    co_department_ids   TEXT NOT NULL DEFAULT '[]',
    active              BOOLEAN NOT NULL DEFAULT 1,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE INDEX routing_rules_category_id_idx ON routing_rules (category_id);
CREATE INDEX routing_rules_region_id_idx ON routing_rules (region_id);
CREATE INDEX routing_rules_priority_idx ON routing_rules (priority, id);

-- Append-only history of rule changes (kept when a rule is deleted).
CREATE TABLE routing_rule_changes (
    id          TEXT PRIMARY KEY,
    rule_id     TEXT NOT NULL,
    action      TEXT NOT NULL,
    actor_id    TEXT,
    changed_at  TIMESTAMP NOT NULL,
    before_json TEXT,
    after_json  TEXT
);
CREATE INDEX routing_rule_changes_rule_id_idx ON routing_rule_changes (rule_id, id);
