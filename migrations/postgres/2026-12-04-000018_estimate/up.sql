-- The planner's estimate of the rows a query returns, from its statistics (nothing is counted):
-- a department's search asks it how large a part of the tickets the department leads
-- (src/tickets/search.rs `is_narrow`). The query text is built by the service from checked ids.
CREATE FUNCTION hotline_estimate(query TEXT) RETURNS FLOAT8 LANGUAGE plpgsql AS $$
DECLARE
    plan JSON;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::FLOAT8;
END
$$;
