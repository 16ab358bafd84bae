-- A confidential ticket's scope again holds `g` for every department on its lead's path and on
-- its co-handlers' paths (migration search_scope_plpgsql).
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
    SELECT string_agg(DISTINCT 'g' || replace(seg, '-', ''), ' ') INTO tokens
        FROM (
            SELECT unnest(string_to_array(lead_path, '/')) AS seg
            UNION ALL
            SELECT unnest(string_to_array(c.department_path, '/'))
                FROM ticket_co_handlers c WHERE c.ticket_id = tid
        ) AS segs
        WHERE seg <> '';
    RETURN to_tsvector('simple', concat_ws(' ',
        tokens,
        'l' || replace(lead_id, '-', ''),
        CASE WHEN secret THEN 'zconfz' END));
END
$$;
UPDATE ticket_search s SET scope = ticket_search_scope(s.ticket_id)
    FROM tickets t WHERE t.id = s.ticket_id AND t.confidential;
