-- The index that finds a cluster's active hot-spot alert no longer holds `last_ticket_at`, which
-- every intake into an active hot spot changes: on PostgreSQL that change could not be a HOT
-- update and wrote a new entry into each of the table's three indexes (820,442 dead row
-- versions beside 1,188 alerts on the benchmark database, a cluster without autovacuum); on
-- SQLite it moved the row's entry in this index. The look-up filters the few undismissed
-- alerts of the cluster by time instead (docs/benchmarks.md, "The eleventh round").
DROP INDEX hotspot_alerts_cluster;
CREATE INDEX hotspot_alerts_cluster ON hotspot_alerts (category_id, region_id)
    WHERE dismissed_at IS NULL;
