#!/usr/bin/env bash
# Many apps (issue 23 item 5): the configuration center with APPS other apps (3 environments x 4 namespaces each,
# every namespace with an item and a release, created through /api/v1) against the same center with none. One
# single-member durable native server per run, on loopback. Each run prints the creation rate, the member's RSS,
# the latency of the API's list and lookup reads, and the publish -> delivered latency to INSTANCES subscribers of
# one app (Subscribe's watch covers the namespace records of every app) with delivery reports on. The subscribers and
# their reports run on the bench's lean HTTP/2 client (TRANSPORT=grpc: grpc-dotnet, which costs the shared cores
# several times the CPU: 10,000 streams took 31 s of client CPU against 7 s on lean in one run).
#   bench/many-apps.sh                 # 5,000 apps, 1,000 instances over 10 connections
#   APPS=500 INSTANCES=200 bench/many-apps.sh
# Knobs: APPS (5000), INSTANCES (1000), SUBSCRIBER_CONNS (10), RELEASES (10), SETUP_CONCURRENCY (16), TRANSPORT (lean),
#   CONCLAVE_SERVER (another build's binary), KEEP (1: keep the scratch folder).
set -euo pipefail
cd "$(dirname "$0")/.."
APPS=${APPS:-5000}
INSTANCES=${INSTANCES:-1000}
SUBSCRIBER_CONNS=${SUBSCRIBER_CONNS:-10}
RELEASES=${RELEASES:-10}
SETUP_CONCURRENCY=${SETUP_CONCURRENCY:-16}
TRANSPORT=${TRANSPORT:-lean}

source bench/lib.sh
conclave_binaries
WORK=$(mktemp -d /tmp/conclave-many-apps.XXXXXX)
PID=""
cleanup() { if [ -n "$PID" ]; then kill -9 "$PID" 2>/dev/null || true; fi; if [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT

for apps in 0 "$APPS"; do
  d="$WORK/data-$apps"
  c=$(free_port); p=$(free_port); h=$(free_port)
  "$CONCLAVE" serve --name many --data-dir "$d" --listen-client-urls "http://127.0.0.1:$c" --listen-http-urls "http://127.0.0.1:$h" \
    --listen-peer-urls "http://127.0.0.1:$p" >>"$WORK/conclave-$apps.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$h/health" >/dev/null && break; sleep 0.1; done
  echo "== $apps other apps" 
  "$BENCH" config --transport "$TRANSPORT" --endpoints "127.0.0.1:$c" --api "http://127.0.0.1:$h" --instances "$INSTANCES" --subscriber-conns "$SUBSCRIBER_CONNS" \
    --releases "$RELEASES" --reports --fetch-duration 0s --apps "$apps" --setup-concurrency "$SETUP_CONCURRENCY" --server-pid "$PID"
  echo "   member RSS at the end: $(( $(rss_kb "$PID") / 1024 )) MiB; data dir $(du -sm "$d" | cut -f1) MiB"
  kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""
done
