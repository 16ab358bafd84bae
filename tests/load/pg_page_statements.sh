#!/usr/bin/env bash
# The page of 50 of all tickets against the statements the server runs for it (docs/benchmarks.md,
# "The eleventh round"): against a database a `hotline load` run filled, pgbench runs the four
# statements of the first page (its rows, their co-handlers, the lead departments' names and
# the deadline rows; the same as the statement log shows for one request, with the page's ids
# written in) alternated with the harness's bare `SELECT *` and with the same page as one
# statement (the co-handlers and deadlines of each row aggregated by subqueries, the lead
# department joined; "The twelfth round"), c=8 for 5 s each, twice.
# usage: tests/load/pg_page_statements.sh DATABASE_URL   (WORK default /tmp/pagesql)
set -euo pipefail
URL=$1; W=${WORK:-/tmp/pagesql}; mkdir -p "$W"
DB=(psql -q -At "$URL")
PAGE="SELECT * FROM tickets ORDER BY id LIMIT 51"
IDS=$("${DB[@]}" -c "SELECT '{' || coalesce(string_agg(id, ','), '') || '}' FROM ($PAGE) p")
DEPTS=$("${DB[@]}" -c "SELECT '{' || coalesce(string_agg(DISTINCT lead_department_id, ','), '') || '}' FROM ($PAGE) p")
echo "$PAGE;" >"$W/bare.sql"
cat >"$W/page.sql" <<SQL
$PAGE;
SELECT ticket_id, department_id, department_path FROM ticket_co_handlers WHERE ticket_id = ANY('$IDS');
SELECT id, name FROM departments WHERE id = ANY('$DEPTS');
SELECT id, ticket_id, step, time_limit, started_at, due_at, yellow_at, paused_at, completed_at, overdue_minutes, warned_yellow_at, warned_red_at FROM ticket_deadlines WHERE ticket_id = ANY('$IDS') ORDER BY id;
SQL
cat >"$W/one.sql" <<SQL
SELECT t.*, d.name AS lead_name,
  (SELECT json_agg(json_build_array(c.department_id, c.department_path)) FROM ticket_co_handlers c WHERE c.ticket_id = t.id) AS co,
  (SELECT json_agg(json_build_array(x.id, x.step, x.time_limit, x.started_at, x.due_at, x.yellow_at, x.paused_at, x.completed_at, x.overdue_minutes, x.warned_yellow_at, x.warned_red_at) ORDER BY x.id) FROM ticket_deadlines x WHERE x.ticket_id = t.id) AS deadlines
FROM ($PAGE) t LEFT JOIN departments d ON d.id = t.lead_department_id ORDER BY t.id;
SQL
for round in 1 2; do
  for f in bare page one; do
    echo "$f: $(pgbench -n -M prepared -c 8 -j 8 -T 5 -f "$W/$f.sql" "$URL" 2>&1 | grep -E '^tps')"
  done
done
