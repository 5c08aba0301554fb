#!/usr/bin/env bash
# Scale bench (issue 23): builds a large state in etcd 3.4 and in Conclave, one single-member durable server at a
# time on loopback, and measures what the state costs each of them:
#   load rate (puts/s, --sequential-keys), RSS after loading, data directory size, kill -9 -> restart -> healthy
#   (seconds, from the restart to the first passing `etcdctl endpoint health`), RSS after the restart, and the
#   put p99 during the load and during OVERWRITE_S seconds of overwrites of the loaded state (full-state snapshots
#   happen then) compared with a short run on an empty server, for Conclave split into the puts that completed while a
#   snapshot was being persisted and the rest (from its log and the load tool's --latency-log), and the share of that
#   time the server stood paused for garbage collection (from each server's /metrics); then TRICKLE_S seconds of
#   overwrites by TRICKLE_CLIENTS clients (a configuration service's usual load: one put per log entry against a large
#   state). For both overwrite phases, the bytes written to the data directory's disk per byte put (/proc/diskstats) and, for
#   Conclave, the snapshots written.
# The table is the median of ROUNDS rounds and the ratio conclave/etcd.
#   bench/scale.sh                         # 1,000,000 keys of 1 KiB (about 1 GB of values), 1 round
#   KEYS=200000 VAL=1024 ROUNDS=3 bench/scale.sh
# Knobs: KEYS, VAL (value bytes), KEY_SIZE (16), CLIENTS (64), CONNS (4), ROUNDS (1), OVERWRITE_S (30),
#   TRICKLE_S (60), TRICKLE_CLIENTS (2),
#   SERVERS ("etcd conclave"),
#   CONCLAVE_SERVER (another build's binary, for an A/B), KEEP (1: keep the scratch folder).
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-1000000}
VAL=${VAL:-1024}
KEY_SIZE=${KEY_SIZE:-16}
CLIENTS=${CLIENTS:-64}
CONNS=${CONNS:-4}
ROUNDS=${ROUNDS:-1}
OVERWRITE_S=${OVERWRITE_S:-30}
TRICKLE_S=${TRICKLE_S:-60}
TRICKLE_CLIENTS=${TRICKLE_CLIENTS:-2}
SERVERS=${SERVERS:-"etcd conclave"}
QUOTA=$((8 * 1024 * 1024 * 1024))

source bench/lib.sh
ensure_etcd
conclave_binaries
WORK=$(mktemp -d /tmp/conclave-scale.XXXXXX)
PID=""
cleanup() { if [ -n "$PID" ]; then kill -9 "$PID" 2>/dev/null || true; fi; if [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT
RESULTS="$WORK/results.tsv"; : >"$RESULTS"

healthy() { ETCDCTL_API=3 etcdctl --endpoints="$1" --command-timeout=1s endpoint health >/dev/null 2>&1; }
wait_healthy() { # addr timeout-seconds
  local deadline; deadline=$(echo "$(now) + $2" | bc)
  until healthy "$1"; do
    if (( $(echo "$(now) > $deadline" | bc) )); then echo "server at $1 not healthy after $2 s" >&2; return 1; fi
    sleep 0.05
  done
}

start() { # server dir client-port peer-port http-port
  local s=$1 d=$2 c=$3 p=$4 h=$5
  if [ "$s" = etcd ]; then
    etcd --name scale --data-dir "$d" --listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
      --listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" --initial-cluster "scale=http://127.0.0.1:$p" \
      --quota-backend-bytes "$QUOTA" >>"$WORK/$s.log" 2>&1 &
  else
    "$CONCLAVE" serve --name scale --data-dir "$d" --listen-client-urls "http://127.0.0.1:$c" --listen-http-urls "http://127.0.0.1:$h" \
      --listen-peer-urls "http://127.0.0.1:$p" --quota-backend-bytes "$QUOTA" >>"$WORK/$s.log" 2>&1 &
  fi
  PID=$!
}

# Seconds the server has been paused for garbage collection: Go's go_gc_duration_seconds_sum (etcd, on its client
# URL) or dotnet_gc_pause_seconds_total (Conclave, on its HTTP URL).
gc_pause_s() { # server client-port http-port
  if [ "$1" = etcd ]; then
    curl -sf "http://127.0.0.1:$2/metrics" | awk '$1 == "go_gc_duration_seconds_sum" {print $2}'
  else
    curl -sf "http://127.0.0.1:$3/metrics" | awk '$1 == "dotnet_gc_pause_seconds_total" {print $2}'
  fi
}

# p99 of the latencies (ms) that completed inside a snapshot's persist window, p99 of the others, and the count inside.
snapshot_split() { # member-log latency-log
  python3 - "$1" "$2" <<'PY'
import re, sys, time, datetime
lat = [tuple(map(float, l.split())) for l in open(sys.argv[2]) if l.strip()]
day = datetime.datetime.fromtimestamp(min(t for t, _ in lat)).date()  # the member logs local time of day
windows = []
for line in open(sys.argv[1]):
    m = re.match(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) .*Snapshot at index \d+ .*persisted in (\d+) ms", line)
    if m:
        h, mi, sec, ms, persist = map(int, m.groups())
        end = time.mktime(datetime.datetime.combine(day, datetime.time(h, mi, sec)).timetuple()) + ms / 1000
        windows.append((end - persist / 1000, end))
def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(0.99 * len(xs)))] if xs else float("nan")
inside = [l for t, l in lat if any(a <= t <= b for a, b in windows)]
outside = [l for t, l in lat if not any(a <= t <= b for a, b in windows)]
print(f"{p99(inside):.1f} {p99(outside):.1f} {len(inside)}")
PY
}

# Snapshots the member's log says were written (not ones that failed).
snapshots_written() { grep -cE "Snapshot at index [0-9]+ \(term [0-9]+\) written" "$WORK/$1.log" || true; }

# Bytes written to the data directory's disk since WRITTEN0 per byte put (PUTS puts of a key and a value); nan when the
# disk's counters cannot be read (a data directory on overlayfs or tmpfs has no device in /proc/diskstats).
disk_per_byte_put() { # written0 puts
  local written1; written1=$(disk_written "$WORK")
  if [ -z "$1" ] || [ -z "$written1" ]; then echo nan; return; fi
  echo "scale=2; ($written1 - $1) / ($2 * ($KEY_SIZE + $VAL))" | bc
}

json() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, {"d": d}))' "$1" "$2"; }

for round in $(seq 1 "$ROUNDS"); do
  for s in $SERVERS; do
    echo "round $round/$ROUNDS: $s, $KEYS keys of $VAL bytes" >&2
    d="$WORK/$s-data"; rm -rf "$d"
    c=$(free_port); p=$(free_port); h=$(free_port)
    start "$s" "$d" "$c" "$p" "$h"
    wait_healthy "127.0.0.1:$c" 60
    base=$("$BENCH" put --endpoints "127.0.0.1:$c" --conns "$CONNS" --clients "$CLIENTS" --total 20000 --key-size "$KEY_SIZE" \
      --val-size "$VAL" --key-space-size 1000 --json)
    out=$("$BENCH" put --endpoints "127.0.0.1:$c" --conns "$CONNS" --clients "$CLIENTS" --total "$KEYS" --key-size "$KEY_SIZE" \
      --val-size "$VAL" --key-space-size "$KEYS" --sequential-keys --json)
    record load "$s" "puts/s" "$(json "$out" 'd["requests_per_s"]')"
    record load "$s" "put p99 ms, empty" "$(json "$base" 'd["latency_ms"]["p99"]')"
    record load "$s" "put p99 ms, loading" "$(json "$out" 'd["latency_ms"]["p99"]')"
    # Settle: a snapshot or compaction started by the load finishes before the memory is read.
    sleep 5
    record state "$s" "RSS MiB after loading" "$(echo "scale=1; $(rss_kb "$PID") / 1024" | bc)"
    record state "$s" "data dir MiB after loading" "$(du -sm "$d" | cut -f1)"
    # Overwrites across the whole state for OVERWRITE_S seconds: snapshots of the full state happen meanwhile
    # (Conclave's log says how many were written); their cost shows in the p99 against the empty server's.
    before=$(snapshots_written "$s")
    written0=$(disk_written "$WORK")
    paused0=$(gc_pause_s "$s" "$c" "$h"); t_over=$(now)
    over=$("$BENCH" put --endpoints "127.0.0.1:$c" --conns "$CONNS" --clients "$CLIENTS" --duration "${OVERWRITE_S}s" --key-size "$KEY_SIZE" \
      --val-size "$VAL" --key-space-size "$KEYS" --latency-log "$WORK/$s.latency" --json)
    record overwrite "$s" "puts/s" "$(json "$over" 'd["requests_per_s"]')"
    record overwrite "$s" "put p99 ms" "$(json "$over" 'd["latency_ms"]["p99"]')"
    record overwrite "$s" "put max ms" "$(json "$over" 'd["latency_ms"]["max"]')"
    paused1=$(gc_pause_s "$s" "$c" "$h")
    record overwrite "$s" "GC pause % of the time" "$(echo "scale=2; 100 * ($paused1 - $paused0) / ($(now) - $t_over)" | bc)"
    record overwrite "$s" "disk bytes per byte put" "$(disk_per_byte_put "$written0" "$(json "$over" 'd["total"]')")"
    if [ "$s" = conclave ]; then
      echo "conclave wrote $(( $(snapshots_written "$s") - before )) snapshot(s) during the overwrites" >&2
      # Issue 23 item 3: the p99 of the puts that completed while a snapshot was being persisted against the p99 of the
      # rest, from the member's log ("... persisted in N ms", stamped when it finished) and the load tool's latency log.
      read -r during between in_windows < <(snapshot_split "$WORK/$s.log" "$WORK/$s.latency")
      echo "conclave: $in_windows puts completed while a snapshot was being persisted" >&2
      record overwrite "$s" "put p99 ms, during snapshots" "$during"
      record overwrite "$s" "put p99 ms, between snapshots" "$between"
    fi
    # A configuration service's usual load: few writers, so one put per log entry, against the large state. What a
    # snapshot costs per byte that changed shows here (issue 23 item 3): the bytes written to disk per byte put.
    before=$(snapshots_written "$s")
    written0=$(disk_written "$WORK")
    trickle=$("$BENCH" put --endpoints "127.0.0.1:$c" --conns 1 --clients "$TRICKLE_CLIENTS" --duration "${TRICKLE_S}s" --key-size "$KEY_SIZE" \
      --val-size "$VAL" --key-space-size "$KEYS" --json)
    record trickle "$s" "puts/s" "$(json "$trickle" 'd["requests_per_s"]')"
    record trickle "$s" "put p99 ms" "$(json "$trickle" 'd["latency_ms"]["p99"]')"
    record trickle "$s" "disk bytes per byte put" "$(disk_per_byte_put "$written0" "$(json "$trickle" 'd["total"]')")"
    if [ "$s" = conclave ]; then
      record trickle "$s" "snapshots written" "$(( $(snapshots_written "$s") - before ))"
    fi
    kill -9 "$PID"; wait "$PID" 2>/dev/null || true
    t0=$(now)
    start "$s" "$d" "$c" "$p" "$h"
    wait_healthy "127.0.0.1:$c" 300
    record restart "$s" "kill -9 to healthy s" "$(echo "$(now) - $t0" | bc)"
    sleep 5
    record restart "$s" "RSS MiB after restart" "$(echo "scale=1; $(rss_kb "$PID") / 1024" | bc)"
    kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""
    rm -rf "$d"
  done
done

print_table "scale: $KEYS keys of $VAL bytes, $ROUNDS round(s)" "load overwrite trickle state restart"
