#!/usr/bin/env bash
# Side-by-side benchmark of 3-member clusters: etcd 3.4 (Debian's etcd-server) and Conclave, durable, default
# settings (etcd: 100 ms heartbeat, 1000 ms election timeout; Conclave: the same values), all members on loopback
# on this one machine. Load is spread over the three members. Every workload runs against each cluster in
# alternation, ROUNDS times; the table shows medians and the ratio Conclave/etcd.
#
#   put       256-byte puts, CLIENTS request loops over CONNS connections spread over the members
#   range-l   linearizable single-key gets, same spread
#   failover  kill -9 the leader, time until a put through the surviving members is acknowledged (FAILOVERS per round)
#
#   bench/compare-etcd-cluster.sh
#   ROUNDS=5 WORKLOADS="put failover" bench/compare-etcd-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
WORKLOADS=${WORKLOADS:-"put range-l failover"}
PUT_TOTAL=${PUT_TOTAL:-30000}
RANGE_TOTAL=${RANGE_TOTAL:-60000}
CLIENTS=${CLIENTS:-64}
CONNS=${CONNS:-6}
WARMUP=${WARMUP:-30000}
FAILOVERS=${FAILOVERS:-3}

source bench/lib.sh
ensure_etcd

conclave_binaries
WORK=$(mktemp -d /tmp/conclave-cbench.XXXXXX)
declare -A PID CMD
cleanup() { for k in "${!PID[@]}"; do kill -9 "${PID[$k]}" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

ctl() { ETCDCTL_API=3 etcdctl "$@"; }

wait_healthy() { # endpoints...
  for e in "$@"; do
    for _ in $(seq 1 400); do ctl --endpoints="$e" --command-timeout=1s endpoint health >/dev/null 2>&1 && break; sleep 0.05; done
  done
}

launch() { # key command...
  local key=$1; shift
  CMD[$key]="$*"
  "$@" >>"$WORK/$key.log" 2>&1 &
  PID[$key]=$!
}

start_cluster() { # server -> sets EPS (comma list) and M1..M3 keys
  local s=$1 i c h p ic=""
  declare -gA CLIENT PEER HTTPP
  for i in 1 2 3; do CLIENT[$i]=$(free_port); PEER[$i]=$(free_port); HTTPP[$i]=$(free_port); done
  for i in 1 2 3; do ic+="${ic:+,}m$i=http://127.0.0.1:${PEER[$i]}"; done
  rm -rf "$WORK/$s"
  for i in 1 2 3; do
    c=${CLIENT[$i]}; p=${PEER[$i]}; h=${HTTPP[$i]}
    if [ "$s" = etcd ]; then
      launch "$s$i" etcd --name "m$i" --data-dir "$WORK/$s/m$i" --listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
        --listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" --initial-cluster "$ic" --initial-cluster-state new
    else
      launch "$s$i" "$CONCLAVE" serve --name "m$i" --data-dir "$WORK/$s/m$i" --listen-client-urls "http://127.0.0.1:$c" \
        --listen-http-urls "http://127.0.0.1:$h" --listen-peer-urls "http://127.0.0.1:$p" --initial-cluster "$ic"
    fi
  done
  EPS="127.0.0.1:${CLIENT[1]},127.0.0.1:${CLIENT[2]},127.0.0.1:${CLIENT[3]}"
  wait_healthy "127.0.0.1:${CLIENT[1]}" "127.0.0.1:${CLIENT[2]}" "127.0.0.1:${CLIENT[3]}"
}

stop_cluster() { local s=$1 i; for i in 1 2 3; do kill "${PID[$s$i]}" 2>/dev/null || true; wait "${PID[$s$i]}" 2>/dev/null || true; unset "PID[$s$i]"; done; }

leader_index() { # server -> 1..3
  local i id lead
  for i in 1 2 3; do
    out=$(ctl --endpoints="127.0.0.1:${CLIENT[$i]}" --command-timeout=1s endpoint status -w json 2>/dev/null) || continue
    id=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1])[0]["Status"]; print(d["header"]["member_id"], d["leader"])' "$out")
    set -- $id; [ "$1" = "$2" ] && { echo "$i"; return; }
  done
  echo 0
}

RESULTS="$WORK/results.tsv"; : >"$RESULTS"

run_closed() { # workload server args...
  local w=$1 s=$2; shift 2
  local c0 c1 out
  c0=$(cpu_ticks "${PID[${s}1]}" "${PID[${s}2]}" "${PID[${s}3]}")
  out=$("$BENCH" "$@" --endpoints "$EPS" --json)
  c1=$(cpu_ticks "${PID[${s}1]}" "${PID[${s}2]}" "${PID[${s}3]}")
  local rps p99 total
  rps=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["requests_per_s"])' "$out")
  p99=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["latency_ms"]["p99"])' "$out")
  total=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["total"])' "$out")
  record "$w" "$s" "req/s" "$rps"
  record "$w" "$s" "p99 ms" "$p99"
  record "$w" "$s" "server cpu us/req (3 members)" "$(echo "scale=1; ($c1 - $c0) * 10000 / $total" | bc)"
}

failover() { # server: kill -9 the leader, time to the first put acknowledged through the other two
  local s=$1 n l others i t0 t
  for n in $(seq 1 "$FAILOVERS"); do
    for _ in $(seq 1 200); do l=$(leader_index); [ "$l" != 0 ] && break; sleep 0.05; done
    others=""; for i in 1 2 3; do [ "$i" != "$l" ] && others+="${others:+,}127.0.0.1:${CLIENT[$i]}"; done
    ctl --endpoints="$others" put failover-key before >/dev/null
    kill -9 "${PID[$s$l]}"; t0=$(now)
    until ctl --endpoints="$others" --command-timeout=1s put failover-key after >/dev/null 2>&1; do :; done
    t=$(echo "($(now) - $t0) * 1000" | bc)
    record failover "$s" "kill -9 leader to 1st put, ms" "$t"
    wait "${PID[$s$l]}" 2>/dev/null || true
    launch "$s$l" ${CMD[$s$l]}
    wait_healthy "127.0.0.1:${CLIENT[$l]}"
  done
}

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  for server in etcd conclave; do
    start_cluster "$server"
    for w in $WORKLOADS; do
      case $w in
        put) "$BENCH" put --endpoints "$EPS" --conns "$CONNS" --clients "$CLIENTS" --total "$WARMUP" --val-size 256 --json >/dev/null
             run_closed put "$server" put --conns "$CONNS" --clients "$CLIENTS" --total "$PUT_TOTAL" --val-size 256 ;;
        range-l) ctl --endpoints="$EPS" put bench-range-key "$(head -c 256 /dev/zero | tr '\0' v)" >/dev/null
             "$BENCH" range --endpoints "$EPS" --conns "$CONNS" --clients "$CLIENTS" --total "$WARMUP" --key bench-range-key --consistency l --json >/dev/null
             run_closed range-l "$server" range --conns "$CONNS" --clients "$CLIENTS" --total "$RANGE_TOTAL" --key bench-range-key --consistency l ;;
        failover) failover "$server" ;;
      esac
    done
    stop_cluster "$server"
  done
done

print_table "3-member clusters, rounds: $ROUNDS; medians (failover: median of every kill)" "put range-l failover"
