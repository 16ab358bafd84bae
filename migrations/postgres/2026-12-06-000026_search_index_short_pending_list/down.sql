ALTER INDEX ticket_search_tokens_scope RESET (gin_pending_list_limit);
