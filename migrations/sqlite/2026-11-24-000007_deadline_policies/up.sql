-- The time-limit policy as edited by admins, every version kept: the newest row is in force;
-- without rows the configuration's [deadlines] is. Deadlines already given keep their limits.
CREATE TABLE deadline_policies (
    id TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    changed_by TEXT REFERENCES users (id),
    changed_at TIMESTAMP NOT NULL
);
