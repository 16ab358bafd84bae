-- A lookup by category alone is served by tickets_category_region_created (category_id leads
-- it), so this index only cost every intake and every change of category one more entry to write.
DROP INDEX tickets_category_idx;
