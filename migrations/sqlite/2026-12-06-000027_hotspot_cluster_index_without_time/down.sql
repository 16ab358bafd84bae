DROP INDEX hotspot_alerts_cluster;
CREATE INDEX hotspot_alerts_cluster ON hotspot_alerts (category_id, region_id, last_ticket_at);
