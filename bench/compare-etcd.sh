#!/usr/bin/env bash
# Side-by-side benchmark: etcd 3.4 (Debian's etcd-server) and Conclave, both single-member, durable, default
# settings, on loopback. Every workload runs against each server in alternation, ROUNDS times; the table shows
# medians and the ratio Conclave/etcd. Server CPU per request (from /proc) is reported too, since on a small
# machine the load generator shares the cores with the server.
#
#   bench/compare-etcd.sh                # all workloads, 3 rounds
#   ROUNDS=5 WORKLOADS="put range-l" bench/compare-etcd.sh
#   CONCLAVE_SERVER=../old/artifacts/conclave/conclave WORKLOADS=put bench/compare-etcd.sh
#   SECURE=1 bench/compare-etcd.sh       # TLS + auth on both servers: put, range-l, range-s
#
# SECURE=1 measures what TLS and a token check per request cost (issue 20). Both servers serve their client URL
# over https with the same member certificate and key, from one CA (made with `conclave certs` in the scratch
# folder); after each start etcdctl (over TLS) adds root (root role) and a user bench whose role may readwrite the
# keys the workloads use (put: zero-padded decimals, the range ["0", ":"); range: bench-range-key), then enables auth. The load
# generator connects with --cacert and --user bench:...: each connection authenticates once, then every request
# carries the token. Server CPU per request is then the load generator's --server-pid figure, over the measured loop
# only: around the whole process it would include the connections' password checks (bcrypt). Only put, range-l and
# range-s run in this mode (the watch bench and the rss/startup figures do not take TLS or a user); SECURE=1 with
# another workload in WORKLOADS stops with an error.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECURE=${SECURE:-0}
if [ "$SECURE" = 1 ]; then
  WORKLOADS=${WORKLOADS:-"put range-l range-s"}
  for w in $WORKLOADS; do
    case $w in put|range-l|range-s) ;; *) echo "SECURE=1 runs put, range-l and range-s only, not '$w'" >&2; exit 2 ;; esac
  done
else
  WORKLOADS=${WORKLOADS:-"put range-l range-s watch rss startup"}
fi
PUT_TOTAL=${PUT_TOTAL:-30000}
RANGE_TOTAL=${RANGE_TOTAL:-60000}
CLIENTS=${CLIENTS:-64}
CONNS=${CONNS:-4}
WATCHERS=${WATCHERS:-1000}
WATCH_RATE=${WATCH_RATE:-100}
WATCH_PUTS=${WATCH_PUTS:-1000}
RSS_WATCHERS=${RSS_WATCHERS:-10000}
WARMUP=${WARMUP:-40000}

source bench/lib.sh
ensure_etcd

conclave_binaries
WORK=$(mktemp -d /tmp/conclave-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

# Plain text: every array below is empty and SCHEME is http.
SCHEME=http; SERVER_TLS=(); CTL_TLS=(); CTL_USER=(); BENCH_SECURE=()
if [ "$SECURE" = 1 ]; then
  "$CONCLAVE" certs init --dir "$WORK/certs" >/dev/null
  "$CONCLAVE" certs member bench --dir "$WORK/certs" --hosts 127.0.0.1,localhost >/dev/null
  SCHEME=https
  # No --trusted-ca-file: etcd 3.4 then requires a client certificate from every client, and this mode measures tokens.
  SERVER_TLS=(--cert-file "$WORK/certs/bench.crt" --key-file "$WORK/certs/bench.key")
  CTL_TLS=(--cacert "$WORK/certs/ca.crt")
  CTL_USER=(--user bench:benchpw)
  BENCH_SECURE=(--cacert "$WORK/certs/ca.crt" --user bench:benchpw)
fi
ctl() { # endpoint host:port, etcdctl args... (over TLS in SECURE mode)
  local a=$1; shift
  if [ "$SECURE" = 1 ]; then a="https://$a"; fi
  ETCDCTL_API=3 etcdctl --endpoints="$a" "${CTL_TLS[@]}" "$@"
}

# SECURE mode, after each start: root (root role), bench (readwrite on the workloads' keys), auth enable.
setup_auth() { # endpoint host:port
  local a=$1
  ctl "$a" user add root:rootpw >/dev/null
  ctl "$a" role add root >/dev/null
  ctl "$a" user grant-role root root >/dev/null
  ctl "$a" user add bench:benchpw >/dev/null
  ctl "$a" role add bench >/dev/null
  ctl "$a" role grant-permission bench readwrite 0 : >/dev/null # put's keys: BenchKeys' zero-padded decimals
  ctl "$a" role grant-permission bench readwrite bench-range-key >/dev/null
  ctl "$a" user grant-role bench bench >/dev/null
  ctl "$a" auth enable >/dev/null
}


wait_ready() { # endpoint host:port
  # First wait for the port to accept connections (a cheap probe every 10 ms), then for a health check to pass:
  # etcdctl started before the port is open waits out its own time-out (1 s), which made the startup figure
  # mostly etcdctl's.
  for _ in $(seq 1 1000); do
    (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null && break
    sleep 0.01
  done
  # A fresh server has no users yet (setup_auth runs after this), so the check goes without credentials.
  for _ in $(seq 1 200); do
    ctl "$1" --command-timeout=1s endpoint health >/dev/null 2>&1 && return 0
    sleep 0.01
  done
  echo "server at $1 did not become ready" >&2; return 1
}

start_etcd() { # sets EP_PID EP_ADDR T (seconds to ready)
  local c p t0; c=$(free_port); p=$(free_port); rm -rf "$WORK/etcd"
  t0=$(now)
  etcd --name bench --data-dir "$WORK/etcd" --listen-client-urls "$SCHEME://127.0.0.1:$c" --advertise-client-urls "$SCHEME://127.0.0.1:$c" "${SERVER_TLS[@]}" \
    --listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" --initial-cluster "bench=http://127.0.0.1:$p" \
    >"$WORK/etcd.log" 2>&1 &
  EP_PID=$!; PIDS+=("$EP_PID"); EP_ADDR="127.0.0.1:$c"
  wait_ready "$EP_ADDR"; T=$(echo "$(now) - $t0" | bc)
}

start_conclave() { # sets CP_PID CP_ADDR T (seconds to ready)
  local c h p t0; c=$(free_port); h=$(free_port); p=$(free_port); rm -rf "$WORK/conclave"
  t0=$(now)
  "$CONCLAVE" serve --name bench --data-dir "$WORK/conclave" --listen-client-urls "$SCHEME://127.0.0.1:$c" "${SERVER_TLS[@]}" \
    --listen-http-urls "http://127.0.0.1:$h" --listen-peer-urls "http://127.0.0.1:$p" >"$WORK/conclave.log" 2>&1 &
  CP_PID=$!; PIDS+=("$CP_PID"); CP_ADDR="127.0.0.1:$c"
  wait_ready "$CP_ADDR"; T=$(echo "$(now) - $t0" | bc)
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

RESULTS="$WORK/results.tsv"; : >"$RESULTS"

run_closed() { # workload server addr pid args...
  local w=$1 s=$2 a=$3 pid=$4; shift 4
  local c0 c1 out
  if [ "$SECURE" = 1 ]; then
    # The server's CPU during the measured loop only, from the load generator: around the whole process it would
    # include each connection's Authenticate, a bcrypt check of tens of ms (several us per request of a run).
    out=$("$BENCH" "$@" --endpoints "$a" "${BENCH_SECURE[@]}" --server-pid "$pid" --json)
  else
    c0=$(cpu_ticks "$pid")
    out=$("$BENCH" "$@" --endpoints "$a" --json)
    c1=$(cpu_ticks "$pid")
  fi
  local rps p99 total
  rps=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["requests_per_s"])' "$out")
  p99=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["latency_ms"]["p99"])' "$out")
  total=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["total"])' "$out")
  record "$w" "$s" "req/s" "$rps"
  record "$w" "$s" "p99 ms" "$p99"
  if [ "$SECURE" = 1 ]; then
    record "$w" "$s" "server cpu us/req" "$(python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["server_cpu_us_per_req"],1))' "$out")"
  else
    record "$w" "$s" "server cpu us/req" "$(echo "scale=1; ($c1 - $c0) * 10000 / $total" | bc)"
  fi
}

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  for server in etcd conclave; do
    if [ "$server" = etcd ]; then start_etcd; addr=$EP_ADDR; pid=$EP_PID; else start_conclave; addr=$CP_ADDR; pid=$CP_PID; fi; t=$T
    if [ "$SECURE" = 1 ]; then setup_auth "$addr"; fi
    for w in $WORKLOADS; do
      case $w in
        startup) record startup "$server" "s to ready" "$t" ;;
        put) # warm-up: a JIT runtime reaches steady state only after tens of thousands of requests
             "$BENCH" put --endpoints "$addr" "${BENCH_SECURE[@]}" --conns "$CONNS" --clients "$CLIENTS" --total "$WARMUP" --val-size 256 --json >/dev/null
             run_closed put "$server" "$addr" "$pid" put --conns "$CONNS" --clients "$CLIENTS" --total "$PUT_TOTAL" --val-size 256 ;;
        range-l) ctl "$addr" "${CTL_USER[@]}" put bench-range-key "$(head -c 256 /dev/zero | tr '\0' v)" >/dev/null
             "$BENCH" range --endpoints "$addr" "${BENCH_SECURE[@]}" --conns "$CONNS" --clients "$CLIENTS" --total "$WARMUP" --key bench-range-key --consistency l --json >/dev/null
             run_closed range-l "$server" "$addr" "$pid" range --conns "$CONNS" --clients "$CLIENTS" --total "$RANGE_TOTAL" --key bench-range-key --consistency l ;;
        range-s) ctl "$addr" "${CTL_USER[@]}" put bench-range-key "$(head -c 256 /dev/zero | tr '\0' v)" >/dev/null
             run_closed range-s "$server" "$addr" "$pid" range --conns "$CONNS" --clients "$CLIENTS" --total "$RANGE_TOTAL" --key bench-range-key --consistency s ;;
        watch) out=$("$BENCH" watch --endpoints "$addr" --conns "$CONNS" --clients 4 --watchers "$WATCHERS" --rate "$WATCH_RATE" --total "$WATCH_PUTS" --json)
             record watch "$server" "delivery p99 ms" "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["delivery_latency_ms"]["p99"])' "$out")"
             record watch "$server" "lost events" "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["lost"])' "$out")" ;;
        rss) base=$(rss_kb "$pid")
             "$BENCH" watch --endpoints "$addr" --conns "$CONNS" --clients 1 --watchers "$RSS_WATCHERS" --rate 10 --total 20 --server-pid "$pid" --json >"$WORK/rss.json"
             record rss "$server" "RSS MiB idle" "$(echo "scale=1; $base / 1024" | bc)"
             record rss "$server" "RSS MiB with watchers" "$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["server_rss_kb"]/1024,1))' "$WORK/rss.json")" ;;
      esac
    done
    stop "$pid"
  done
done

title="rounds: $ROUNDS; medians"
if [ "$SECURE" = 1 ]; then title="$title; TLS + auth (token per request)"; fi
print_table "$title" "put range-l range-s watch rss startup"
