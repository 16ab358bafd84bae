#!/usr/bin/env bash
# Prints an access token of a demo user of a server started by serve.sh.
# usage: tests/load/token.sh PORT USER
set -euo pipefail
PASSWORD=${PASSWORD:-Bench-pass-4821!}
curl -sf -X POST "http://127.0.0.1:$1/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"$2\",\"password\":\"$PASSWORD\"}" |
  python3 -c 'import sys, json; print(json.load(sys.stdin)["access_token"])'
