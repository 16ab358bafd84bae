-- Full-text search (src/tickets/search.rs): each ticket's title and description as bigram and
-- word tokens (ASCII-encoded, so no locale changes them), searched by phrase through GIN.
CREATE TABLE ticket_search (
    ticket_id TEXT PRIMARY KEY REFERENCES tickets (id),
    tokens TSVECTOR NOT NULL
);
CREATE INDEX ticket_search_tokens ON ticket_search USING GIN (tokens);
