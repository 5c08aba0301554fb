#!/usr/bin/env bash
# Backup at scale (issue 23/24): loads KEYS keys of VAL bytes into etcd 3.4 and into Conclave (one single-member durable
# server at a time, loopback), then takes `etcdctl snapshot save` of each and measures the server's RSS before it and
# its peak during it (sampled every 50 ms), the save's seconds and the file's size. The member spools the image to an
# unlinked file in its data directory, so its memory should not grow by the image's size.
#   bench/snapshot-save.sh                      # 1,000,000 keys of 1 KiB
#   KEYS=200000 SERVERS=conclave bench/snapshot-save.sh
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-1000000}
VAL=${VAL:-1024}
SERVERS=${SERVERS:-"etcd conclave"}
QUOTA=$((8 * 1024 * 1024 * 1024))
source bench/lib.sh
ensure_etcd
conclave_binaries
WORK=$(mktemp -d /tmp/conclave-snapsave.XXXXXX)
PID=""
cleanup() { if [ -n "$PID" ]; then kill -9 "$PID" 2>/dev/null || true; fi; rm -rf "$WORK"; }
trap cleanup EXIT
RESULTS="$WORK/results.tsv"; : >"$RESULTS"

for s in $SERVERS; do
  d="$WORK/$s.data" c=$(free_port) p=$(free_port) h=$(free_port)
  if [ "$s" = etcd ]; then
    etcd --name snap --data-dir "$d" --listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
      --listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" --initial-cluster "snap=http://127.0.0.1:$p" \
      --quota-backend-bytes "$QUOTA" >>"$WORK/$s.log" 2>&1 &
  else
    "$CONCLAVE" serve --name snap --data-dir "$d" --listen-client-urls "http://127.0.0.1:$c" --listen-http-urls "http://127.0.0.1:$h" \
      --listen-peer-urls "http://127.0.0.1:$p" --quota-backend-bytes "$QUOTA" >>"$WORK/$s.log" 2>&1 &
  fi
  PID=$!
  for _ in $(seq 600); do ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$c" --command-timeout=1s endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
  "$BENCH" put --endpoints "127.0.0.1:$c" --conns 4 --clients 64 --total "$KEYS" --key-size 16 --val-size "$VAL" \
    --key-space-size "$KEYS" --sequential-keys --json >/dev/null
  sleep 5 # a snapshot or compaction the load started settles
  before=$(rss_kb "$PID")
  peak=$before
  start=$(now)
  ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$c" --command-timeout=600s snapshot save "$WORK/$s.db" >/dev/null 2>&1 &
  SAVE=$!
  while kill -0 "$SAVE" 2>/dev/null; do r=$(rss_kb "$PID"); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.05; done
  wait "$SAVE" || { echo "$s: etcdctl snapshot save failed" >&2; exit 1; }
  secs=$(echo "$(now) - $start" | bc)
  record save "$s" "RSS MiB before the save" "$(echo "scale=1; $before / 1024" | bc)"
  record save "$s" "RSS MiB peak during the save" "$(echo "scale=1; $peak / 1024" | bc)"
  record save "$s" "RSS MiB growth" "$(echo "scale=1; ($peak - $before) / 1024" | bc)"
  record save "$s" "save seconds" "$secs"
  record save "$s" "file MiB" "$(du -m "$WORK/$s.db" | cut -f1)"
  kill -9 "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  rm -rf "$d" "$WORK/$s.db"
done
print_table "snapshot save: $KEYS keys of $VAL bytes" "save"
