-- PostgreSQL only (a sequence for ticket numbers); SQLite keeps its per-day counter.
SELECT 1;
