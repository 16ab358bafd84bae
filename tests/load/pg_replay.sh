#!/usr/bin/env bash
# The intake's own statements without the server (docs/benchmarks.md, "The twelfth round"):
# against a database a `hotline load` run filled, the server takes 2 s of intake at c=8 with
# its statements logged (log_statement = 'all' for this database only, then reset), and
# tests/load/pg_replay.py turns 128 of the logged intakes into pgbench scripts with fresh ids.
# pgbench then runs them on a copy of the database (`createdb -T`, dropped at the end, so the
# database keeps its size), for $SECONDS_ s each (default 20), alternated, twice: the harness's
# two-insert ceiling at c=8; the 128 intakes one a transaction, as the server sends them, at
# c=8; and the same intakes eight to a transaction (a batch, as a group-commit writer would send
# them; intakes = 8 × its TPS) at c=8 and at c=1 (one writer).
# usage: tests/load/pg_replay.sh DATABASE_URL   (port 18093; BIN as serve.sh; WORK default
# /tmp/replay; LOG: the PostgreSQL server's log file, default Debian's)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/load/lib.sh
URL=$1; PORT=18093; HERE=tests/load; W=${WORK:-/tmp/replay}; mkdir -p "$W"
LOG=${LOG:-/var/log/postgresql/postgresql-15-main.log}
SECONDS_=${SECONDS_:-20}
[ "$SECONDS_" -ge 4 ] || { echo "SECONDS_ must be 4 or more" >&2; exit 2; }
DB=(psql -q -At "$URL")
DBNAME=$("${DB[@]}" -c "SELECT current_database()")
COPY=${DBNAME}_replay
COPY_URL=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$URL" "$COPY")
SERVER=
cleanup() {
  [ -z "$SERVER" ] || kill "$SERVER" 2>/dev/null || true
  pkill -f "pgbench .*$COPY" 2>/dev/null || true
  "${DB[@]}" -c "ALTER DATABASE \"$DBNAME\" RESET log_statement" ||
    echo "could not reset log_statement of $DBNAME" >&2
  "${DB[@]}" -c "DROP DATABASE IF EXISTS \"$COPY\" WITH (FORCE)" ||
    echo "could not drop the copy $COPY" >&2
}
trap cleanup EXIT
pg_intake_pairs "$URL" >"$W/pairs"
"${DB[@]}" -c "ALTER DATABASE \"$DBNAME\" SET log_statement = 'all'"
$HERE/serve.sh "$URL" $PORT >"$W/serve.log" 2>&1 &
SERVER=$!   # serve.sh execs the server
sleep 4
OT=$($HERE/token.sh $PORT operator)
FROM=$(stat -c %s "$LOG")
KINDS=8 PAIRS=$W/pairs TOKEN=$OT wrk -t2 -c8 -d2s -s $HERE/intake.lua "http://127.0.0.1:$PORT" |
  grep -E "Requests/sec" | sed 's/^/logged intake (not a measurement): /'
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
"${DB[@]}" -c "ALTER DATABASE \"$DBNAME\" RESET log_statement"
tail -c +$((FROM + 1)) "$LOG" >"$W/statements.log"
rm -f "$W"/one_*.sql "$W"/batch_*.sql
python3 $HERE/pg_replay.py "$W/statements.log" "$DBNAME" "$W" 128 8
# a template must have no other sessions: wait for the server's to end
for _ in $(seq 50); do
  [ "$("${DB[@]}" -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DBNAME' AND pid <> pg_backend_pid()")" = 0 ] && break
  sleep 0.2
done
"${DB[@]}" -c "DROP DATABASE IF EXISTS \"$COPY\" WITH (FORCE)" -c "CREATE DATABASE \"$COPY\" TEMPLATE \"$DBNAME\""
C=(psql -q -At "$COPY_URL")
"${C[@]}" -c "CREATE TABLE ceiling_a (id BIGSERIAL PRIMARY KEY, v TEXT NOT NULL, at TIMESTAMP NOT NULL); \
  CREATE TABLE ceiling_b (id BIGSERIAL PRIMARY KEY, a BIGINT NOT NULL, v TEXT NOT NULL)"
cat >"$W/ceiling.sql" <<'SQL'
BEGIN;
INSERT INTO ceiling_a (v, at) VALUES ('小区停水三天了', now());
INSERT INTO ceiling_b (a, v) VALUES (lastval(), 'create');
COMMIT;
SQL
files() { for f in "$W"/$1_*.sql; do printf -- '-f %s ' "$f"; done; }
# run C PER ARGS...: pgbench with C clients for $SECONDS_ s; prints the rate of intakes (PER a
# transaction) and the copy's sessions' CPU per intake (pg_session_ticks), read from 1 s to 1 s
# before the end (the sessions are gone once pgbench ends). The values are written into the
# statements, so each client prepares each file's statements at its first use of that file:
# 128 files one a transaction and 16 eight a transaction, so that both pay the same share of
# first uses (a few per cent in 20 s at these rates).
run() {
  local c=$1 per=$2; shift 2
  local out; out=$(mktemp)
  pgbench -n -M prepared -c "$c" -j "$c" -T "$SECONDS_" "$@" "$COPY_URL" >"$out" 2>&1 &
  local pid=$! p0 p1; sleep 1; p0=$(pg_session_ticks "$COPY"); sleep $((SECONDS_ - 2)); p1=$(pg_session_ticks "$COPY")
  wait $pid || true
  grep -m1 -E "^pgbench: error" "$out" || true
  awk -v per="$per" -v p0="$p0" -v p1="$p1" -v s="$((SECONDS_ - 2))" '/^tps/ {
    printf "%.0f TPS, %.0f intakes/s, database CPU %.2f ms an intake\n", $3, $3 * per,
      (p1 - p0) * 10 / ($3 * per * s) }' "$out"
  rm -f "$out"
}
for round in 1 2; do
  echo "ceiling (two-insert transaction), c=8: $(run 8 1 -f "$W/ceiling.sql")"
  echo "intake statements, one a transaction, c=8: $(run 8 1 $(files one))"
  echo "intake statements, eight a transaction, c=8: $(run 8 8 $(files batch))"
  echo "intake statements, eight a transaction, c=1 (one writer): $(run 1 8 $(files batch))"
done
