-- A department's search asks the index's scope (migration search_scope) with one token, `g<id>`,
-- instead of `g<id> & (!zconfz | l<id>)`. A GIN index answers a query with a NOT only
-- approximately, so every gathered row was read from the heap again to check it: for a word
-- concentrated in one department (43,272 matches) that recheck was 7 of the 22 ms the gathering
-- took (docs/benchmarks.md, "The ninth round").
--
-- So a confidential ticket's scope holds `g` for its lead department alone (who alone may see it)
-- and not for that department's ancestors or the co-handlers; `l<lead>` and `zconfz` stay (an
-- instance still running the previous query, during a rolling start, finds the same tickets).
-- An ordinary ticket's scope is as before. The list's own visibility condition is applied to the
-- tickets as well, as before, so the scope only narrows what is gathered.
--
-- Rewrites the scope of the confidential tickets only.
CREATE OR REPLACE FUNCTION ticket_search_scope(tid TEXT) RETURNS TSVECTOR LANGUAGE plpgsql STABLE AS $$
DECLARE
    lead_id TEXT;
    lead_path TEXT;
    secret BOOLEAN;
    tokens TEXT;
BEGIN
    SELECT t.lead_department_id, t.lead_department_path, t.confidential
        INTO lead_id, lead_path, secret
        FROM tickets t WHERE t.id = tid;
    IF secret THEN
        tokens := 'g' || replace(lead_id, '-', '');
    ELSE
        SELECT string_agg(DISTINCT 'g' || replace(seg, '-', ''), ' ') INTO tokens
            FROM (
                SELECT unnest(string_to_array(lead_path, '/')) AS seg
                UNION ALL
                SELECT unnest(string_to_array(c.department_path, '/'))
                    FROM ticket_co_handlers c WHERE c.ticket_id = tid
            ) AS segs
            WHERE seg <> '';
    END IF;
    RETURN to_tsvector('simple', concat_ws(' ',
        tokens,
        'l' || replace(lead_id, '-', ''),
        CASE WHEN secret THEN 'zconfz' END));
END
$$;
UPDATE ticket_search s SET scope = ticket_search_scope(s.ticket_id)
    FROM tickets t WHERE t.id = s.ticket_id AND t.confidential;
