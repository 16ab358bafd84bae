#!/usr/bin/env bash
# A department's ranked search and list for 停水 (water_staff) with wrk at c=1 for 5 s each,
# against a database a `hotline load` run filled: rate, p50 and p99 (docs/benchmarks.md,
# "The ninth round").
# usage: tests/load/dept_search.sh DATABASE_URL BINARY   (port 18095; WORK default /tmp/profd)
set -uo pipefail
cd "$(dirname "$0")/../.."
URL=$1; PORT=18095; HERE=tests/load; W=${WORK:-/tmp/profd}; mkdir -p "$W"
BIN=$2 $HERE/serve.sh "$URL" $PORT >$W/serve.log 2>&1 &
S=$!; trap 'kill $S 2>/dev/null' EXIT; sleep 4
T=$($HERE/token.sh $PORT water_staff)
Q=%E5%81%9C%E6%B0%B4
for path in "tickets/search?q=$Q&limit=50" "tickets?q=$Q&limit=50"; do
  wrk -t1 -c1 -d1s -H "Authorization: Bearer $T" "http://127.0.0.1:$PORT/api/v1/$path" >/dev/null
  printf '%s: ' "${path%%\?*}"
  wrk -t1 -c1 -d5s --latency -H "Authorization: Bearer $T" "http://127.0.0.1:$PORT/api/v1/$path" |
    grep -E "Requests/sec|50%|99%|Non-2xx" | tr -s ' ' | tr '\n' ' '
  echo
done
