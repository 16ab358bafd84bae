-- A department's whole list asks for the ids of the tickets it leads (tickets::reads,
-- `department_tickets`): with the id in the index they come from the index alone, without
-- reading each ticket's row (50 ms → 5 ms for a department leading 21,353 of a million tickets).
-- Building it took 3.2 s over a million tickets.
DROP INDEX tickets_lead_path_idx;
CREATE INDEX tickets_lead_path_idx ON tickets (lead_department_path, id);
