#!/usr/bin/env bash
# The ranked search for 停水 at c=8 (wrk, 5 s, as the operator) against a SQLite file a `hotline load`
# run filled, on a server just started: the rate, and the server's resident memory before and at
# its peak (VmHWM). usage: tests/load/search_memory.sh SQLITE_FILE   (BIN: the binary;
# HOTLINE__DATABASE__POOL_SIZE and other settings from the environment; port 18091)
set -euo pipefail
cd "$(dirname "$0")/../.."
DB=$1; PORT=18091; HERE=tests/load
. $HERE/lib.sh
start_sqlite_server "$DB" $PORT
PID=$(pgrep -f "hotline[^ ]* serve" | head -1)
OT=$($HERE/token.sh $PORT operator)
grep VmRSS /proc/$PID/status
wrk -t2 -c8 -d5s -H "Authorization: Bearer $OT" "http://127.0.0.1:$PORT/api/v1/tickets/search?q=%E5%81%9C%E6%B0%B4&limit=50" | grep -E "Requests/sec"
grep -E "VmHWM|VmRSS" /proc/$PID/status | tr '\n' ' '; echo
