#!/usr/bin/env bash
# The write path at c=8 with wrk against a SQLite file a `hotline load` run filled: intake for
# 4 s, then dispatch to the water company of the tickets just taken in (4 s), then sign (2 s).
# usage: tests/load/writes.sh SQLITE_FILE LABEL   (BIN: the binary; port 18091)
set -euo pipefail
cd "$(dirname "$0")/../.."
DB=$1; PORT=18091; HERE=tests/load
. $HERE/lib.sh
start_sqlite_server "$DB" $PORT
OT=$($HERE/token.sh $PORT operator); DT=$($HERE/token.sh $PORT dispatcher); WT=$($HERE/token.sh $PORT water_staff)
intake_pairs "$DB" 200 >"$WORK/pairs"
WATER=$(sqlite3 "$DB" "SELECT id FROM departments WHERE name = '市自来水公司'")
summary() { grep -E "Requests/sec|99%|Non-2xx" | tr -s ' ' | tr '\n' ' '; echo; }
echo -n "$2 intake:   "; PAIRS=$WORK/pairs TOKEN=$OT wrk -t2 -c8 -d4s --latency -s $HERE/intake.lua "http://127.0.0.1:$PORT" | summary
sqlite3 "$DB" "SELECT id FROM tickets WHERE status = 'registered' AND id LIKE '%-%'" >"$WORK/ids"
echo -n "$2 dispatch: "; IDS=$WORK/ids TOKEN=$DT ACTION=dispatch BODY="{\"department_id\":\"$WATER\"}" wrk -t2 -c8 -d4s --latency -s $HERE/act.lua "http://127.0.0.1:$PORT" | summary
sqlite3 "$DB" "SELECT id FROM tickets WHERE status = 'dispatched' AND lead_department_id = '$WATER' AND id LIKE '%-%'" >"$WORK/ids"
echo -n "$2 sign:     "; IDS=$WORK/ids TOKEN=$WT ACTION=sign BODY="" wrk -t2 -c8 -d2s --latency -s $HERE/act.lua "http://127.0.0.1:$PORT" | summary
