#!/usr/bin/env bash
# What the configuration center's access check costs per change (issue 21, ADR 0015): item changes through /api/v1
# (`conclave-bench config --changes`) against one single-member durable native server, in three modes run in
# alternation, ROUNDS times each:
#   off    auth disabled (no token, no access check)
#   root   auth enabled, calls as root: the token is checked, the access check is skipped (root may do anything)
#   owner  auth enabled, calls as the app's owner, a plain user: the token is checked and every change reads the app
#          and access records and pins them in its transaction (the access check)
# The access check's cost is owner - root; auth's whole cost on a change is owner - off. Prints the medians.
#   bench/access-check.sh                      # 3 rounds of 3,000 changes per mode, 4 clients
#   ROUNDS=5 CHANGES=5000 bench/access-check.sh
# Knobs: ROUNDS (3), CHANGES (3000), CLIENTS (4), CONCLAVE_SERVER (another build's binary), KEEP (1: keep the scratch folder).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
CHANGES=${CHANGES:-3000}
CLIENTS=${CLIENTS:-4}

source bench/lib.sh
ensure_etcd
conclave_binaries
WORK=$(mktemp -d /tmp/conclave-access-check.XXXXXX)
RESULTS=$WORK/results.tsv
PID=""
cleanup() { if [ -n "$PID" ]; then kill -9 "$PID" 2>/dev/null || true; fi; if [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT

# start_member NAME AUTH(0|1): starts a fresh member; sets PID, C (client port), H (HTTP port).
start_member() {
  local d="$WORK/data-$1"; rm -rf "$d"
  C=$(free_port); local p; p=$(free_port); H=$(free_port)
  "$CONCLAVE" serve --name access --data-dir "$d" --listen-client-urls "http://127.0.0.1:$C" --listen-http-urls "http://127.0.0.1:$H" \
    --listen-peer-urls "http://127.0.0.1:$p" >>"$WORK/conclave-$1.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$H/health" >/dev/null && break; sleep 0.1; done
  if [ "$2" = 1 ]; then
    local e=(etcdctl --endpoints "127.0.0.1:$C")
    ETCDCTL_API=3 "${e[@]}" user add root --new-user-password=rootpw >/dev/null 2>&1
    ETCDCTL_API=3 "${e[@]}" user add bench --new-user-password=benchpw >/dev/null 2>&1
    ETCDCTL_API=3 "${e[@]}" auth enable >/dev/null 2>&1
  fi
}

stop_member() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""; }

for round in $(seq 1 "$ROUNDS"); do
  for mode in off root owner; do
    auth=1; user=()
    case $mode in
      off) auth=0 ;;
      root) user=(--user root:rootpw) ;;
      owner) user=(--user bench:benchpw) ;;
    esac
    start_member "$mode-$round" "$auth"
    out=$("$BENCH" config --endpoints "127.0.0.1:$C" --api "http://127.0.0.1:$H" --instances 1 --subscriber-conns 1 --releases 1 --pause 0 \
      --fetch-duration 0s --credential --changes "$CHANGES" --change-clients "$CLIENTS" --server-pid "$PID" "${user[@]}")
    stop_member
    line=$(grep "changes:" <<<"$out")
    echo "round $round $mode:$line"
    rate=$(sed -E 's/.* = ([0-9]+) changes\/s.*/\1/' <<<"$line")
    p50=$(sed -E 's/.*p50 ([0-9.]+) ms.*/\1/' <<<"$line")
    p99=$(sed -E 's/.*p99 ([0-9.]+) ms.*/\1/' <<<"$line")
    cpu=$(sed -E 's/.*CPU ([0-9]+) µs per change.*/\1/' <<<"$line")
    printf '%s\t%s\t%s\t%s\t%s\n' "$mode" "$rate" "$p50" "$p99" "$cpu" >>"$RESULTS"
  done
done

python3 - "$RESULTS" "$CHANGES" "$CLIENTS" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    mode, *values = line.rstrip("\n").split("\t")
    rows[mode].append([float(v) for v in values])
print(f"medians of {len(rows['off'])} rounds, {sys.argv[2]} changes over {sys.argv[3]} clients per run")
print(f"{'mode':6} {'changes/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/change':>14}")
med = {}
for mode in ("off", "root", "owner"):
    cols = list(zip(*rows[mode]))
    med[mode] = [statistics.median(c) for c in cols]
    r, p50, p99, cpu = med[mode]
    print(f"{mode:6} {r:10.0f} {p50:8.2f} {p99:8.2f} {cpu:14.0f}")
print(f"access check (owner - root): {med['owner'][3] - med['root'][3]:+.0f} µs of member CPU per change, p50 {med['owner'][1] - med['root'][1]:+.2f} ms")
print(f"auth in all (owner - off):   {med['owner'][3] - med['off'][3]:+.0f} µs of member CPU per change, p50 {med['owner'][1] - med['off'][1]:+.2f} ms")
PY
