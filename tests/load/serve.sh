#!/usr/bin/env bash
# Starts `hotline serve` on a database a `hotline load` run filled, background jobs off, after
# setting the demo users' passwords to $PASSWORD (docs/benchmarks.md, "The sixth round").
# usage: tests/load/serve.sh DATABASE_URL PORT   (BIN: the binary, default target/release/hotline)
set -euo pipefail
BIN=${BIN:-target/release/hotline}
PASSWORD=${PASSWORD:-Bench-pass-4821!}
DATA=${DATA:-/tmp/hotline-load-data}
mkdir -p "$DATA"
for u in operator dispatcher water_staff supervisor; do
  echo "$PASSWORD" | DATABASE_URL=$1 HOTLINE__DATA_DIR=$DATA "$BIN" user set-password "$u" --password-stdin >/dev/null
done
exec env DATABASE_URL="$1" HOTLINE__DATA_DIR="$DATA" HOTLINE__SERVER__BIND="127.0.0.1:$2" \
  HOTLINE__JOBS__SWEEP_INTERVAL_SECONDS=0 HOTLINE__NOTIFICATIONS__POLL_INTERVAL_MS=0 \
  RUST_LOG=warn "$BIN" serve
