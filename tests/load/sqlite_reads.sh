#!/usr/bin/env bash
# Concurrent reads on SQLite with wrk, alternating binaries (twice each; docs/benchmarks.md,
# "The twelfth round"): against a file a `hotline load` run filled, for each binary the ranked
# search for 停水 at c=1, 2 and 8, GET one ticket and the page of 50 at c=8 (4 s each), then the
# server's peak RSS.
# usage: tests/load/sqlite_reads.sh FILE BINARY [BINARY ...]   (port 18096)
set -euo pipefail
cd "$(dirname "$0")/../.."
FILE=$1; shift; PORT=18096; HERE=tests/load; WORK=$(mktemp -d)
SERVER=
trap '[ -z "$SERVER" ] || kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
ID=$(sqlite3 "$FILE" "SELECT id FROM tickets WHERE id LIKE '%-%' LIMIT 1")
URL="http://127.0.0.1:$PORT/api/v1"
line() { grep -E "Requests/sec|Latency " | tr -s ' ' | tr '\n' ' '; echo; }
for round in 1 2; do for bin in "$@"; do
  BIN=$bin $HERE/serve.sh "sqlite://$FILE" $PORT >"$WORK/serve.log" 2>&1 &
  SERVER=$!   # serve.sh execs the server
  sleep 5
  T=$($HERE/token.sh $PORT operator)
  echo "== $(basename "$bin")"
  for c in 1 2 8; do
    echo "search c=$c $(wrk -t1 -c$c -d4s -H "Authorization: Bearer $T" "$URL/tickets/search?q=%E5%81%9C%E6%B0%B4&limit=50" | line)"
  done
  echo "GET c=8 $(wrk -t2 -c8 -d4s -H "Authorization: Bearer $T" "$URL/tickets/$ID" | line)"
  echo "page c=8 $(wrk -t2 -c8 -d4s -H "Authorization: Bearer $T" "$URL/tickets?limit=50" | line)"
  grep VmHWM "/proc/$SERVER/status"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
done; done
