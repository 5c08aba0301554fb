#!/usr/bin/env bash
# Restart A/B on one data directory (issue 23 item 2): loads KEYS keys of VAL bytes into a single member built from this
# checkout (--sequential-keys), overwrites for OVERWRITE_S seconds, kills it with SIGKILL, and then restarts a copy of
# that same data directory with each binary of A and B in turn, ROUNDS times, timing kill -> healthy (the first passing
# `etcdctl endpoint health`) and the RSS once healthy. The state is identical for every restart, so the difference is
# the binaries'.
#   A=artifacts/conclave/conclave B=../other/artifacts/conclave/conclave bench/restart-ab.sh
# Knobs: KEYS (1000000), VAL (1024), OVERWRITE_S (30), ROUNDS (3), A, B (server binaries; A defaults to this checkout's).
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-1000000}; VAL=${VAL:-1024}; OVERWRITE_S=${OVERWRITE_S:-30}; ROUNDS=${ROUNDS:-3}
source bench/lib.sh
ensure_etcd
conclave_binaries
A=$(realpath "${A:-$CONCLAVE}"); B=$(realpath "${B:?set B to the other server binary}")
WORK=$(mktemp -d /tmp/conclave-restart-ab.XXXXXX)
PID=""
cleanup() { if [ -n "$PID" ]; then kill -9 "$PID" 2>/dev/null || true; fi; rm -rf "$WORK"; }
trap cleanup EXIT

serve() { # binary dir client-port http-port peer-port
  "$1" serve --name ab --data-dir "$2" --listen-client-urls "http://127.0.0.1:$3" --listen-http-urls "http://127.0.0.1:$4" \
    --listen-peer-urls "http://127.0.0.1:$5" --quota-backend-bytes $((8 << 30)) >>"$WORK/member.log" 2>&1 &
  PID=$!
}
healthy() { ETCDCTL_API=3 etcdctl --endpoints="$1" --command-timeout=1s endpoint health >/dev/null 2>&1; }

c=$(free_port); h=$(free_port); p=$(free_port)
serve "$A" "$WORK/seed" "$c" "$h" "$p"
until healthy "127.0.0.1:$c"; do sleep 0.1; done
"$BENCH" put --endpoints "127.0.0.1:$c" --conns 4 --clients 64 --total "$KEYS" --val-size "$VAL" --key-space-size "$KEYS" --sequential-keys --json >/dev/null
if [ "$OVERWRITE_S" != 0 ]; then
  "$BENCH" put --endpoints "127.0.0.1:$c" --conns 4 --clients 64 --duration "${OVERWRITE_S}s" --val-size "$VAL" --key-space-size "$KEYS" --json >/dev/null
fi
kill -9 "$PID"; wait "$PID" 2>/dev/null || true; PID=""
echo "seed: $KEYS keys of $VAL bytes, $OVERWRITE_S s of overwrites; data dir $(du -sm "$WORK/seed" | cut -f1) MiB"

for round in $(seq 1 "$ROUNDS"); do
  for who in A B; do
    bin=$A; [ "$who" = B ] && bin=$B
    rm -rf "$WORK/run"; cp -a "$WORK/seed" "$WORK/run"; sync
    c=$(free_port); h=$(free_port); p=$(free_port)
    started=$(now)
    serve "$bin" "$WORK/run" "$c" "$h" "$p"
    until healthy "127.0.0.1:$c"; do sleep 0.05; done
    took=$(echo "$(now) - $started" | bc)
    echo "round $round $who: healthy after $(printf '%.1f' "$took") s, RSS $(( $(rss_kb "$PID") / 1024 )) MiB"
    kill -9 "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  done
done
