-- The search index keeps GIN's pending list (`fastupdate`) but short: 256 kB instead of the
-- server's gin_pending_list_limit (4 MB by default). An intake appends its entries to the list;
-- the intake whose entries fill it merges the whole list into the tree inside its own
-- transaction, and every search reads the whole list beside the tree. With 4 MB (some 4,500
-- intakes' entries) the merge held the intakes near it for 110-170 ms every few seconds at
-- 1,500 intakes a second on two cores, and a phrase search took 3.2-3.8 ms at p50 with the
-- list a few seconds old, against 0.8 ms with it empty. With 256 kB the slowest intake of a
-- 10 s run took 19-28 ms, the rate stayed (1,516-1,695/s against 1,467-1,652/s) and the phrase
-- took 0.8 ms; without the list (`fastupdate = off`) the slowest took 17-26 ms but the rate fell
-- to 1,366-1,575/s (docs/benchmarks.md, "The eleventh round"). What the list holds now goes
-- into the tree.
ALTER INDEX ticket_search_tokens_scope SET (gin_pending_list_limit = 256);
SELECT gin_clean_pending_list('ticket_search_tokens_scope'::regclass);
