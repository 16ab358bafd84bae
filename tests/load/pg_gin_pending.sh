#!/usr/bin/env bash
# GIN's pending list and the intake's tail on PostgreSQL (docs/benchmarks.md, "The eleventh
# round"): against a database a `hotline load` run filled, first the size of the pending list
# read about every 0.1 s under 10 s of intakes (each fall is a merge); then intake at c=8 for
# 10 s with wrk (the harness's eight kinds of calls: intake.lua with KINDS=8), the search index
# set in turn to PostgreSQL's default (a pending list of 4 MB), no list (`fastupdate = off`)
# and the list of 256 kB that migration `search_index_short_pending_list` sets, twice each;
# then the phrase and the word searched at c=1 after 3 s of intakes, with the default list and
# with the short one, and with the list emptied. Prints wrk's rate, p99 and slowest call, and
# the list's size (pgstattuple's pgstatginindex). Leaves the migration's setting, however it
# ends.
# usage: tests/load/pg_gin_pending.sh DATABASE_URL [BINARY]   (port 18093; WORK default /tmp/gin)
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/load/lib.sh
URL=$1; PORT=18093; HERE=tests/load; W=${WORK:-/tmp/gin}; mkdir -p "$W"
DB=(psql -q -At "$URL")
INDEX=ticket_search_tokens_scope
# pgstatginindex comes with contrib's pgstattuple (creating it needs a superuser)
"${DB[@]}" -c "CREATE EXTENSION IF NOT EXISTS pgstattuple" >/dev/null || exit 1
pg_intake_pairs "$URL" >"$W/pairs"
BIN=${2:-target/release/hotline} $HERE/serve.sh "$URL" $PORT >"$W/serve.log" 2>&1 &
S=$!; sleep 5
OT=$($HERE/token.sh $PORT operator)
[ -n "$OT" ] || { echo "no token: see $W/serve.log" >&2; kill $S; exit 1; }
DEFAULT="fastupdate = on, gin_pending_list_limit = 4096"
NONE="fastupdate = off"
SHORT="fastupdate = on, gin_pending_list_limit = 256"
# however the run ends: the server stopped, the index as migration search_index_short_pending_list left it
trap '"${DB[@]}" -c "ALTER INDEX $INDEX RESET (fastupdate)" -c "ALTER INDEX $INDEX SET (gin_pending_list_limit = 256)"; kill $S 2>/dev/null' EXIT
set_index() {
  "${DB[@]}" -c "ALTER INDEX $INDEX SET ($1)" \
    -c "SELECT gin_clean_pending_list('$INDEX'::regclass)" >/dev/null
}
pending() { "${DB[@]}" -c "SELECT pending_pages FROM pgstatginindex('$INDEX')"; }
intake() {
  KINDS=8 PAIRS=$W/pairs TOKEN=$OT wrk -t2 -c8 -d"$1" --latency -s $HERE/intake.lua "http://127.0.0.1:$PORT"
}
search() {
  wrk -t1 -c1 -d3s --latency -H "Authorization: Bearer $OT" \
    "http://127.0.0.1:$PORT/api/v1/tickets/search?q=$1" | grep -E " 50%|Requests/sec|Non-2xx" | tr -s ' ' | tr '\n' ' '
}
# the default list under 10 s of intakes, its size read about every 0.1 s: each fall is a merge
set_index "$DEFAULT"
( end=$((SECONDS + 10)); while [ $SECONDS -lt $end ]; do
    echo "$(date +%s.%N | cut -c8-14) $(pending)"; sleep 0.05
  done ) >"$W/samples" &
P=$!
intake 10s >/dev/null; wait $P
awk 'NR > 1 && $2 < last { printf "list merged at %s s: %d -> %d pages\n", $1, last, $2 } { last = $2 }
     NR == 1 { t0 = $1; p0 = $2 } END { printf "samples %d, %d -> %d pages over %.1f s\n", NR, p0, $2, $1 - t0 }' "$W/samples"
for round in 1 2; do
  for setting in "$DEFAULT" "$NONE" "$SHORT"; do
    set_index "$setting"
    echo "$setting: $(intake 10s | grep -E 'Requests/sec|99%|Latency |Non-2xx' | tr -s ' ' | tr '\n' ' ')"
  done
done
WORD=%E5%81%9C%E6%B0%B4; PHRASE=%E5%81%9C%E6%B0%B4%E4%B8%89%E5%A4%A9
for round in 1 2; do
  for setting in "$DEFAULT" "$SHORT"; do
    set_index "$setting"
    intake 3s >/dev/null
    echo "$setting, pending pages $(pending): phrase $(search $PHRASE) word $(search $WORD)"
  done
  "${DB[@]}" -c "SELECT gin_clean_pending_list('$INDEX'::regclass)" >/dev/null
  echo "emptied, pending pages $(pending): phrase $(search $PHRASE) word $(search $WORD)"
done
