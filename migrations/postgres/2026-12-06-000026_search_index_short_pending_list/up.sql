-- The search index keeps GIN's pending list (`fastupdate`) but short: 256 kB instead of the
-- server's gin_pending_list_limit (4 MB by default). An intake appends its entries to the list;
-- the intake whose entries fill it merges the whole list into the tree inside its own
-- transaction, and every search reads the whole list beside the tree. With 4 MB (filled every
-- five seconds or so at 1,500 intakes a second on two cores) the slowest intake of a 10 s run
-- took 101-135 ms, and a phrase search 2.4-2.6 ms at p50 with the list a few seconds old against
-- 0.7-0.8 ms with it empty. With 256 kB the slowest intake took 32-53 ms at the same rate and
-- the phrase 0.84-0.86 ms; without the list (`fastupdate = off`) the slowest took 24-38 ms but
-- the rate fell by up to a fifth (docs/benchmarks.md, "The eleventh round"). What the list
-- holds now goes into the tree.
ALTER INDEX ticket_search_tokens_scope SET (gin_pending_list_limit = 256);
SELECT gin_clean_pending_list('ticket_search_tokens_scope'::regclass);
