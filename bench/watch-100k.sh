#!/usr/bin/env bash
# 100,000 watchers on one member (issue 23 item 4): etcd 3.4 and Conclave in turn, ROUNDS rounds, each a fresh
# single-member server; `conclave-bench watch` attaches 100,000 watchers on one prefix over 16 connections (Conclave
# takes at most 10,000 watches on one stream) and puts RATE times a second, TOTAL puts; prints each run's events,
# losses, delivery latency and the server's RSS with every watcher attached.
#   bench/watch-100k.sh                  # 1 put/s, 20 puts: 100,000 events a second
#   RATE=10 TOTAL=100 bench/watch-100k.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_etcd
conclave_binaries
RATE=${RATE:-1}; TOTAL=${TOTAL:-20}; ROUNDS=${ROUNDS:-2}; WATCHERS=${WATCHERS:-100000}
W=$(mktemp -d /tmp/watch-100k.XXXXXX)
PID=""
trap 'if [ -n "$PID" ]; then kill -9 "$PID" 2>/dev/null || true; fi; rm -rf "$W"' EXIT
for round in $(seq 1 "$ROUNDS"); do
  for s in etcd conclave; do
    c=$(free_port); p=$(free_port); h=$(free_port)
    if [ "$s" = etcd ]; then
      etcd --name w --data-dir "$W/etcd-$round" --listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
        --listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" --initial-cluster "w=http://127.0.0.1:$p" >"$W/etcd.log" 2>&1 &
    else
      "$CONCLAVE" serve --name w --data-dir "$W/conclave-$round" --listen-client-urls "http://127.0.0.1:$c" --listen-http-urls "http://127.0.0.1:$h" \
        --listen-peer-urls "http://127.0.0.1:$p" >"$W/conclave.log" 2>&1 &
    fi
    PID=$!
    until ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$c" --command-timeout=1s endpoint health >/dev/null 2>&1; do sleep 0.1; done
    echo "== round $round, $s"
    "$BENCH" watch --endpoints "127.0.0.1:$c" --conns 16 --clients 16 --watchers "$WATCHERS" --rate "$RATE" --total "$TOTAL" --server-pid "$PID" |
      grep -E "Events|Lost|Server RSS|Delivery"
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  done
done
