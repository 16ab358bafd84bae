CREATE OR REPLACE FUNCTION ticket_search_scope(tid TEXT) RETURNS TSVECTOR LANGUAGE sql STABLE AS $$
    SELECT to_tsvector('simple', coalesce(string_agg(token, ' '), ''))
    FROM (
        SELECT 'g' || replace(seg, '-', '') AS token
        FROM tickets t, unnest(string_to_array(t.lead_department_path, '/')) AS seg
        WHERE t.id = tid AND seg <> ''
        UNION
        SELECT 'g' || replace(seg, '-', '')
        FROM ticket_co_handlers c, unnest(string_to_array(c.department_path, '/')) AS seg
        WHERE c.ticket_id = tid AND seg <> ''
        UNION
        SELECT 'l' || replace(t.lead_department_id, '-', '')
        FROM tickets t WHERE t.id = tid AND t.lead_department_id IS NOT NULL
        UNION
        SELECT 'zconfz' FROM tickets t WHERE t.id = tid AND t.confidential
    ) AS tokens
$$;
