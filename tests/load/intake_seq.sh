#!/usr/bin/env bash
# One call after another (tests/load/intake_seq.py) against a SQLite file a `hotline load` run
# filled, on a server just started: the first call's time and any stall that recurs.
# usage: tests/load/intake_seq.sh SQLITE_FILE N   (BIN: the binary; NPAIRS: how many (category,
# region) pairs of the file's tickets to spread the calls over, default 200; port 18091)
set -euo pipefail
cd "$(dirname "$0")/../.."
DB=$1; PORT=18091; HERE=tests/load
. $HERE/lib.sh
start_sqlite_server "$DB" $PORT
OT=$($HERE/token.sh $PORT operator)
intake_pairs "$DB" "${NPAIRS:-200}" >"$WORK/pairs"
python3 $HERE/intake_seq.py $PORT "$OT" "$WORK/pairs" "$2"
