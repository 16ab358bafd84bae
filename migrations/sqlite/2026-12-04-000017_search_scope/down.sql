DROP TRIGGER ticket_co_handlers_search_scope_au;
DROP TRIGGER ticket_co_handlers_search_scope_ad;
DROP TRIGGER ticket_co_handlers_search_scope_ai;
DROP TRIGGER tickets_search_scope_au;
DROP TRIGGER ticket_search_docs_ai;
DROP TRIGGER ticket_search_docs_ad;
DROP TRIGGER ticket_search_docs_au;
DROP TABLE ticket_search;
ALTER TABLE ticket_search_docs DROP COLUMN scope;
DROP VIEW ticket_search_scopes;
CREATE VIRTUAL TABLE ticket_search USING fts5(
    tokens, content = 'ticket_search_docs', content_rowid = 'id', tokenize = 'unicode61'
);
INSERT INTO ticket_search (ticket_search) VALUES ('rebuild');
CREATE TRIGGER ticket_search_docs_ai AFTER INSERT ON ticket_search_docs BEGIN
    INSERT INTO ticket_search (rowid, tokens) VALUES (new.id, new.tokens);
END;
CREATE TRIGGER ticket_search_docs_ad AFTER DELETE ON ticket_search_docs BEGIN
    INSERT INTO ticket_search (ticket_search, rowid, tokens) VALUES ('delete', old.id, old.tokens);
END;
CREATE TRIGGER ticket_search_docs_au AFTER UPDATE ON ticket_search_docs BEGIN
    INSERT INTO ticket_search (ticket_search, rowid, tokens) VALUES ('delete', old.id, old.tokens);
    INSERT INTO ticket_search (rowid, tokens) VALUES (new.id, new.tokens);
END;
