#!/usr/bin/env bash
# How much of a single member's put throughput the WAL's disk writes cost (docs/adr/0004): the same build and load,
# the data directory once on disk and once on tmpfs (where synchronous writes cost almost nothing). Each server
# gets RUNS back-to-back put runs of PUTS requests right after it starts; the table shows the median of runs 2..RUNS
# (run 1 is the JIT's warm-up) of requests/s and server CPU µs per put.
#
#   bench/wal-bound.sh
#   RUNS=6 DISK_DIR=/var/tmp bench/wal-bound.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10}
PUTS=${PUTS:-20000}
CLIENTS=${CLIENTS:-64}
CONNS=${CONNS:-4}
DISK_DIR=${DISK_DIR:-/tmp}
TMPFS_DIR=${TMPFS_DIR:-/dev/shm}
source bench/lib.sh

./conclave --help >/dev/null # publishes the build (Native AOT with clang, else ReadyToRun) when stale
CONCLAVE=artifacts/conclave/conclave
bench/conclave-bench --help >/dev/null # the load generator, published the same way
BENCH=artifacts/conclave-bench/conclave-bench
PIDS=(); DIRS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done; for d in "${DIRS[@]:-}"; do [ -z "$d" ] || rm -rf "$d"; done; }
trap cleanup EXIT

series() { # label base-dir -> prints "label median-rps median-cpu-us"
  local label=$1 dir c h p pid out rps c0 c1 rows=""
  [ "$(stat -f -c %T "$2")" = tmpfs ] || [ "$label" != tmpfs ] || { echo "$2 is not tmpfs" >&2; exit 1; }
  dir=$(mktemp -d "$2/conclave-walbound.XXXXXX"); DIRS+=("$dir")
  c=$(free_port); h=$(free_port); p=$(free_port)
  "$CONCLAVE" serve --name bench --data-dir "$dir/data" --listen-client-urls "http://127.0.0.1:$c" \
    --listen-http-urls "http://127.0.0.1:$h" --listen-peer-urls "http://127.0.0.1:$p" >"$dir/log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  until ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$c" --command-timeout=1s endpoint health >/dev/null 2>&1; do sleep 0.05; done
  for run in $(seq 1 "$RUNS"); do
    c0=$(cpu_ticks "$pid")
    out=$("$BENCH" put --endpoints "127.0.0.1:$c" --conns "$CONNS" --clients "$CLIENTS" --total "$PUTS" --val-size 256 --json)
    c1=$(cpu_ticks "$pid")
    rps=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["requests_per_s"])' "$out")
    echo "  $label run $run: $rps puts/s, $(( (c1 - c0) * 10000 / PUTS )) µs CPU/put" >&2
    [ "$run" -gt 1 ] && rows="$rows $rps:$(( (c1 - c0) * 10000 / PUTS ))"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir" # series runs in $(...): the EXIT trap of the script never sees DIRS
  python3 - "$label" $rows <<'PY'
import sys, statistics
runs = [r.split(":") for r in sys.argv[2:]]
print(f"{sys.argv[1]:8} {statistics.median(float(r) for r, _ in runs):12.0f} {statistics.median(float(c) for _, c in runs):12.0f}")
PY
}

disk=$(series disk "$DISK_DIR")
tmpfs=$(series tmpfs "$TMPFS_DIR")
printf '%-8s %12s %12s\n' "data dir" "puts/s" "cpu µs/put"
echo "$disk"; echo "$tmpfs"
