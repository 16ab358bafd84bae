DROP INDEX tickets_category_region_created;
DROP TABLE hotspot_tickets;
DROP TABLE hotspot_alerts;
