CREATE OR REPLACE FUNCTION ticket_search_scope_on_insert() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    NEW.scope := ticket_search_scope(NEW.ticket_id);
    RETURN NEW;
END
$$;
ALTER TABLE ticket_search ALTER COLUMN scope SET DEFAULT ''::tsvector;
