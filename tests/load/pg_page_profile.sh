#!/usr/bin/env bash
# The page of 50 of all tickets (as the supervisor) at c=8 for 5 s with wrk against a PostgreSQL
# database a `hotline load` run filled: the rate and the server's CPU ticks (/proc/<pid>/stat,
# 100 a second per core); PERF=1 also records the server with perf into $WORK/perf.data
# (docs/benchmarks.md, "The eighth round").
# usage: tests/load/pg_page_profile.sh DATABASE_URL BINARY   (port 18094; WORK default /tmp/profp)
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/load/lib.sh
URL=$1; PORT=18094; HERE=tests/load; W=${WORK:-/tmp/profp}; mkdir -p "$W"
BIN=$2 $HERE/serve.sh "$URL" $PORT >$W/serve.log 2>&1 &
S=$!; trap 'kill $S 2>/dev/null' EXIT; sleep 4
T=$($HERE/token.sh $PORT supervisor)
wrk -t1 -c2 -d1s -H "Authorization: Bearer $T" "http://127.0.0.1:$PORT/api/v1/tickets?limit=50" >/dev/null
if [ -n "${PERF:-}" ]; then
  perf record -F 999 -g -p $S -o "$W/perf.data" -- sleep 4 >/dev/null 2>&1 &
fi
s0=$(cpu_ticks $S)
wrk -t2 -c8 -d5s --latency -H "Authorization: Bearer $T" "http://127.0.0.1:$PORT/api/v1/tickets?limit=50" | grep -E "Requests/sec|99%|Non-2xx" | tr -s ' ' | tr '\n' ' '
s1=$(cpu_ticks $S); echo "server ticks $((s1-s0))"
