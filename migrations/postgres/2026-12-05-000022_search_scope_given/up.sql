-- A ticket taken in writes its search row in the same statement as the ticket itself
-- (db::write_together), where the scope function cannot see the ticket yet: that row brings its
-- scope (a ticket just taken in has no department and no co-handlers, so only its
-- confidentiality counts). A row inserted without a scope (NULL: the column no longer has a
-- default) still takes it from its ticket, as before. The scope a new ticket brings is written
-- in Rust (tickets::search::new_ticket_row): keep the two in step when ticket_search_scope changes
-- (the test search_follows_who_may_see_a_ticket compares them).
ALTER TABLE ticket_search ALTER COLUMN scope DROP DEFAULT;
CREATE OR REPLACE FUNCTION ticket_search_scope_on_insert() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.scope IS NULL THEN
        NEW.scope := ticket_search_scope(NEW.ticket_id);
    END IF;
    RETURN NEW;
END
$$;
