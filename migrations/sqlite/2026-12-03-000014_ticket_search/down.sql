DROP TABLE ticket_search;
DROP TABLE ticket_search_docs;
