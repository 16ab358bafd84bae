#!/usr/bin/env bash
# Intake at c=8 for 5 s with wrk against a PostgreSQL database a `hotline load` run filled: the
# rate, the CPU time of the server and of the database's backends (ticks of /proc/<pid>/stat,
# 100 a second per core) and the statements by total time (pg_stat_statements, which must be in
# shared_preload_libraries and created in the database). PERF=1 also records the server with perf
# into $WORK/perf.data (docs/benchmarks.md, "The eighth round").
# usage: tests/load/pg_intake_profile.sh DATABASE_URL BINARY   (port 18092; WORK default /tmp/prof)
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/load/lib.sh
URL=$1; BIN=$2; PORT=18092; HERE=tests/load; W=${WORK:-/tmp/prof}; mkdir -p "$W"
DB=(psql -q -At "$URL")
DBNAME=$("${DB[@]}" -c "SELECT current_database()")
pg_intake_pairs "$URL" >"$W/pairs"
BIN=$BIN $HERE/serve.sh "$URL" $PORT >"$W/serve.log" 2>&1 &
S=$!   # serve.sh execs the server
trap 'kill $S 2>/dev/null' EXIT
sleep 4
OT=$($HERE/token.sh $PORT operator)
PAIRS=$W/pairs TOKEN=$OT wrk -t1 -c2 -d1s -s $HERE/intake.lua "http://127.0.0.1:$PORT" >/dev/null
"${DB[@]}" -c "SELECT pg_stat_statements_reset()" >/dev/null
if [ -n "${PERF:-}" ]; then
  perf record -F 999 -g -p $S -o "$W/perf.data" -- sleep 4 >/dev/null 2>&1 &
fi
s0=$(cpu_ticks $S); p0=$(pg_session_ticks "$DBNAME")
PAIRS=$W/pairs TOKEN=$OT wrk -t2 -c8 -d5s --latency -s $HERE/intake.lua "http://127.0.0.1:$PORT" |
  grep -E "Requests/sec|99%|Non-2xx" | tr -s ' ' | tr '\n' ' '
s1=$(cpu_ticks $S); p1=$(pg_session_ticks "$DBNAME")
echo "cpu ticks: server $((s1-s0)) database backends $((p1-p0))"
"${DB[@]}" -F' | ' -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms, \
  round(mean_exec_time::numeric, 3) AS mean_ms, left(regexp_replace(query, '\s+', ' ', 'g'), 110) \
  FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$DBNAME') \
  ORDER BY total_exec_time DESC LIMIT 14"
