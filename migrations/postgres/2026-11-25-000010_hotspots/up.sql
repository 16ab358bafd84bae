-- Hot spots (热点): many new tickets of one category in one place within a sliding window raise
-- one alert per cluster (docs/indicators.md "Hot spots"); later tickets of the cluster join it.
CREATE TABLE hotspot_alerts (
    id TEXT PRIMARY KEY,
    category_id TEXT NOT NULL REFERENCES categories (id),
    region_id TEXT NOT NULL REFERENCES regions (id),
    ticket_count INTEGER NOT NULL,
    first_ticket_at TIMESTAMP NOT NULL,
    last_ticket_at TIMESTAMP NOT NULL,
    raised_at TIMESTAMP NOT NULL,
    dismissed_at TIMESTAMP,
    dismissed_by TEXT REFERENCES users (id),
    dismiss_reason TEXT
);
CREATE INDEX hotspot_alerts_cluster ON hotspot_alerts (category_id, region_id, last_ticket_at);
CREATE INDEX hotspot_alerts_raised ON hotspot_alerts (raised_at);

CREATE TABLE hotspot_tickets (
    alert_id TEXT NOT NULL REFERENCES hotspot_alerts (id),
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    PRIMARY KEY (alert_id, ticket_id)
);

-- the window count at intake: new tickets of a category in a region since a moment
CREATE INDEX tickets_category_region_created ON tickets (category_id, region_id, created_at);
