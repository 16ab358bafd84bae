-- Full-text search (src/tickets/search.rs): each ticket's title and description as bigram and
-- word tokens. The documents live in ticket_search_docs (an INTEGER key, so VACUUM keeps it);
-- ticket_search is an FTS5 index over them, kept in step by triggers; matched by phrase.
CREATE TABLE ticket_search_docs (
    id INTEGER PRIMARY KEY,
    ticket_id TEXT NOT NULL UNIQUE REFERENCES tickets (id),
    tokens TEXT NOT NULL
);
CREATE VIRTUAL TABLE ticket_search USING fts5(
    tokens, content = 'ticket_search_docs', content_rowid = 'id', tokenize = 'unicode61'
);
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
