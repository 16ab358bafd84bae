#!/usr/bin/env bash
# The write path at c=8 with wrk against a PostgreSQL database a `hotline load` run filled,
# alternating binaries (twice each): for each, one second of intake to warm the server, intake for
# 5 s, then dispatch to the water company of the tickets just taken in (4 s).
# usage: tests/load/pg_writes.sh DATABASE_URL BINARY [BINARY ...]   (port 18092)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/load/lib.sh
URL=$1; shift; PORT=18092; HERE=tests/load; WORK=$(mktemp -d)
DB=(psql -q -At "$URL")
SERVER=
trap '[ -z "$SERVER" ] || kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
# calls over 200 (category, village) pairs whose category asks for no required attribute
pg_intake_pairs "$URL" >"$WORK/pairs"
WATER=$("${DB[@]}" -c "SELECT id FROM departments WHERE name = '市自来水公司'")
summary() { grep -E "Requests/sec|99%|Non-2xx" | tr -s ' ' | tr '\n' ' '; echo; }
for round in 1 2; do for bin in "$@"; do
  BIN=$bin $HERE/serve.sh "$URL" $PORT >"$WORK/serve.log" 2>&1 &
  SERVER=$!   # serve.sh execs the server
  sleep 4
  OT=$($HERE/token.sh $PORT operator); DT=$($HERE/token.sh $PORT dispatcher)
  PAIRS=$WORK/pairs TOKEN=$OT wrk -t1 -c2 -d1s -s $HERE/intake.lua "http://127.0.0.1:$PORT" >/dev/null
  echo -n "$(basename "$bin") intake:   "
  PAIRS=$WORK/pairs TOKEN=$OT wrk -t2 -c8 -d5s --latency -s $HERE/intake.lua "http://127.0.0.1:$PORT" | summary
  "${DB[@]}" -c "SELECT id FROM tickets WHERE status = 'registered' AND id LIKE '%-%'" >"$WORK/ids"
  echo -n "$(basename "$bin") dispatch: "
  IDS=$WORK/ids TOKEN=$DT ACTION=dispatch BODY="{\"department_id\":\"$WATER\"}" \
    wrk -t2 -c8 -d4s --latency -s $HERE/act.lua "http://127.0.0.1:$PORT" | summary
  kill $SERVER; wait $SERVER 2>/dev/null || true; SERVER=
done; done
