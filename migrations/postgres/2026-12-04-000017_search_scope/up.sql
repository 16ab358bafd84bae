-- Who may see each ticket, as tokens beside its text in the search index, so that a department
-- user's search is one GIN look-up of "the text AND my department" instead of a walk over every
-- match (at 10 million tickets, 停水 for one department took a minute). `scope` holds: `g<id>` for
-- every department on the lead department's path and on each co-handler's path (a department
-- sees its subtree), `l<id>` for the lead department, and `zconfz` when the ticket is
-- confidential (then only the lead department sees it). Ids lose their dashes (one token each).
-- The row in `tickets` stays the authority: the list applies the visibility rules as well, so a
-- stale scope could hide a ticket from a search but never show one.
CREATE FUNCTION ticket_search_scope(tid TEXT) RETURNS TSVECTOR LANGUAGE sql STABLE AS $$
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

ALTER TABLE ticket_search ADD COLUMN scope TSVECTOR NOT NULL DEFAULT ''::tsvector;
UPDATE ticket_search SET scope = ticket_search_scope(ticket_id);

-- one index over both columns: a query on the text and the scope intersects their entries
-- inside the index (exact rows, not a page-level AND of two bitmaps)
DROP INDEX ticket_search_tokens;
CREATE INDEX ticket_search_tokens_scope ON ticket_search USING GIN (tokens, scope);

-- kept in step: a new index row takes its scope; a ticket's lead department or confidentiality,
-- or its co-handlers, changing recompute it
CREATE FUNCTION ticket_search_scope_on_insert() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    NEW.scope := ticket_search_scope(NEW.ticket_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER ticket_search_scope_bi BEFORE INSERT ON ticket_search
    FOR EACH ROW EXECUTE FUNCTION ticket_search_scope_on_insert();

CREATE FUNCTION ticket_search_scope_of_ticket() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ticket_search SET scope = ticket_search_scope(NEW.id) WHERE ticket_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER tickets_search_scope_au AFTER UPDATE OF lead_department_id, lead_department_path, confidential
    ON tickets FOR EACH ROW
    WHEN (OLD.lead_department_id IS DISTINCT FROM NEW.lead_department_id
          OR OLD.lead_department_path IS DISTINCT FROM NEW.lead_department_path
          OR OLD.confidential IS DISTINCT FROM NEW.confidential)
    EXECUTE FUNCTION ticket_search_scope_of_ticket();

CREATE FUNCTION ticket_search_scope_of_co_handler() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE ticket_search SET scope = ticket_search_scope(OLD.ticket_id) WHERE ticket_id = OLD.ticket_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE ticket_search SET scope = ticket_search_scope(NEW.ticket_id) WHERE ticket_id = NEW.ticket_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER ticket_co_handlers_search_scope AFTER INSERT OR UPDATE OR DELETE ON ticket_co_handlers
    FOR EACH ROW EXECUTE FUNCTION ticket_search_scope_of_co_handler();
