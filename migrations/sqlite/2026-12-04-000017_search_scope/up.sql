-- Who may see each ticket, beside its text in the search index: the same tokens as on
-- PostgreSQL (migration search_scope there), so that a department's search or list filtered by
-- a word asks FTS5 for "the phrase AND my department" and gathers only its own matches (the
-- water company's list of 停水 gathered all 130,000 matches of a million tickets to keep 3,500).
-- `scope` holds `g<id>` for every department on the lead department's path and on each
-- co-handler's path (a department sees its subtree), `l<id>` for the lead department, and
-- `zconfz` when the ticket is confidential (then only the lead department sees it). Ids lose
-- their dashes (one token each). The row in `tickets` stays the authority: the list applies the
-- visibility rules as well, so a stale scope could hide a ticket from a search but never show one.
CREATE VIEW ticket_search_scopes (ticket_id, scope) AS
SELECT t.id, trim(
    CASE WHEN trim(coalesce(t.lead_department_path, ''), '/') <> ''
         THEN 'g' || replace(replace(trim(t.lead_department_path, '/'), '-', ''), '/', ' g')
         ELSE '' END
    || coalesce((SELECT ' ' || group_concat(
                    'g' || replace(replace(trim(c.department_path, '/'), '-', ''), '/', ' g'), ' ')
                 FROM ticket_co_handlers c
                 WHERE c.ticket_id = t.id AND trim(c.department_path, '/') <> ''), '')
    || CASE WHEN t.lead_department_id IS NOT NULL
            THEN ' l' || replace(t.lead_department_id, '-', '') ELSE '' END
    || CASE WHEN t.confidential THEN ' zconfz' ELSE '' END)
FROM tickets t;

-- the FTS5 index gains the column: built again from the documents
DROP TRIGGER ticket_search_docs_ai;
DROP TRIGGER ticket_search_docs_ad;
DROP TRIGGER ticket_search_docs_au;
DROP TABLE ticket_search;
ALTER TABLE ticket_search_docs ADD COLUMN scope TEXT NOT NULL DEFAULT '';
UPDATE ticket_search_docs
   SET scope = coalesce((SELECT s.scope FROM ticket_search_scopes s
                         WHERE s.ticket_id = ticket_search_docs.ticket_id), '');
CREATE VIRTUAL TABLE ticket_search USING fts5(
    tokens, scope, content = 'ticket_search_docs', content_rowid = 'id', tokenize = 'unicode61'
);
INSERT INTO ticket_search (ticket_search) VALUES ('rebuild');
CREATE TRIGGER ticket_search_docs_ai AFTER INSERT ON ticket_search_docs BEGIN
    INSERT INTO ticket_search (rowid, tokens, scope) VALUES (new.id, new.tokens, new.scope);
END;
CREATE TRIGGER ticket_search_docs_ad AFTER DELETE ON ticket_search_docs BEGIN
    INSERT INTO ticket_search (ticket_search, rowid, tokens, scope)
    VALUES ('delete', old.id, old.tokens, old.scope);
END;
CREATE TRIGGER ticket_search_docs_au AFTER UPDATE ON ticket_search_docs
WHEN old.tokens IS NOT new.tokens OR old.scope IS NOT new.scope BEGIN
    INSERT INTO ticket_search (ticket_search, rowid, tokens, scope)
    VALUES ('delete', old.id, old.tokens, old.scope);
    INSERT INTO ticket_search (rowid, tokens, scope) VALUES (new.id, new.tokens, new.scope);
END;

-- kept in step: a new document takes its scope where it is written (tickets::search::index); a
-- ticket's lead department or confidentiality, or its co-handlers, changing recompute it
CREATE TRIGGER tickets_search_scope_au
AFTER UPDATE OF lead_department_id, lead_department_path, confidential ON tickets
WHEN old.lead_department_id IS NOT new.lead_department_id
  OR old.lead_department_path IS NOT new.lead_department_path
  OR old.confidential IS NOT new.confidential
BEGIN
    UPDATE ticket_search_docs
       SET scope = coalesce((SELECT s.scope FROM ticket_search_scopes s WHERE s.ticket_id = new.id), '')
     WHERE ticket_id = new.id;
END;
CREATE TRIGGER ticket_co_handlers_search_scope_ai AFTER INSERT ON ticket_co_handlers BEGIN
    UPDATE ticket_search_docs
       SET scope = coalesce((SELECT s.scope FROM ticket_search_scopes s WHERE s.ticket_id = new.ticket_id), '')
     WHERE ticket_id = new.ticket_id;
END;
CREATE TRIGGER ticket_co_handlers_search_scope_ad AFTER DELETE ON ticket_co_handlers BEGIN
    UPDATE ticket_search_docs
       SET scope = coalesce((SELECT s.scope FROM ticket_search_scopes s WHERE s.ticket_id = old.ticket_id), '')
     WHERE ticket_id = old.ticket_id;
END;
CREATE TRIGGER ticket_co_handlers_search_scope_au AFTER UPDATE ON ticket_co_handlers BEGIN
    UPDATE ticket_search_docs
       SET scope = coalesce((SELECT s.scope FROM ticket_search_scopes s WHERE s.ticket_id = old.ticket_id), '')
     WHERE ticket_id = old.ticket_id;
    UPDATE ticket_search_docs
       SET scope = coalesce((SELECT s.scope FROM ticket_search_scopes s WHERE s.ticket_id = new.ticket_id), '')
     WHERE ticket_id = new.ticket_id;
END;
