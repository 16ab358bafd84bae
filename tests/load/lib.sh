# Sourced by the load scripts (from the repository's root).
# start_sqlite_server FILE PORT: `serve.sh` on the file in the background ($SERVER), a scratch
# directory $WORK, both gone on exit.
start_sqlite_server() {
  WORK=$(mktemp -d)
  tests/load/serve.sh "sqlite://$1" "$2" >"$WORK/serve.log" 2>&1 &
  SERVER=$!
  trap 'kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
  sleep 5
}
# intake_pairs FILE N: up to N "category region" lines of the file's tickets (of its catalogue
# and villages when it has none), the places the intake scripts take calls in.
intake_pairs() {
  local pairs
  pairs=$(sqlite3 "$1" "SELECT DISTINCT category_id || ' ' || region_id FROM tickets WHERE category_id IS NOT NULL AND region_id IS NOT NULL LIMIT $2")
  [ -n "$pairs" ] || pairs=$(sqlite3 "$1" "SELECT c.id || ' ' || r.id FROM categories c, regions r WHERE c.parent_id IS NOT NULL AND r.parent_id IS NOT NULL LIMIT $2")
  echo "$pairs"
}
# pg_intake_pairs URL: 200 "category region" lines of a PostgreSQL database, villages and
# categories that ask for no required attribute, the places the wrk intake scripts take calls in.
pg_intake_pairs() {
  psql -q -At "$1" -F' ' -c "SELECT c.id, r.id FROM categories c, regions r WHERE c.parent_id IS NOT NULL \
    AND r.level = 'village' AND c.attributes NOT LIKE '%\"required\":true%' LIMIT 200"
}
# cpu_ticks PID: the process's user and system CPU time so far, in ticks (100 a second), from
# /proc/PID/stat (fields 14 and 15); 0 once it is gone.
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# pg_session_ticks DBNAME: cpu_ticks summed over PostgreSQL's sessions on that database (process
# title "postgres: [CLUSTER: ]USER DB HOST(PORT) …" or "… DB [local] …"; not autovacuum's workers).
pg_session_ticks() {
  local t=0 p
  for p in $(pgrep -f "^postgres: (.*: )?[a-z_]+ $1 ([0-9a-f.:]+\\(|\\[local\\])"); do
    t=$((t + $(cpu_ticks "$p")))
  done
  echo $t
}
