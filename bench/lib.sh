# Shared by the bench scripts (sourced, not run).

# Installs Debian's etcd-server and etcd-client (etcdctl, which the scripts' health checks use) when missing.
ensure_etcd() {
  local missing=()
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v etcdctl >/dev/null || missing+=(etcd-client)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} ..." >&2
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Sets CONCLAVE (the server binary) and BENCH (the load generator). CONCLAVE_SERVER=path/to/conclave measures another
# build's server (an A/B against an older commit) with this checkout's load generator and settings; by default this
# checkout's build, published when stale (Native AOT with clang, else ReadyToRun), and the load generator likewise.
conclave_binaries() {
  if [ -n "${CONCLAVE_SERVER:-}" ]; then
    CONCLAVE=$(realpath "$CONCLAVE_SERVER")
  else
    ./conclave --help >/dev/null
    CONCLAVE=$PWD/artifacts/conclave/conclave
  fi
  bench/conclave-bench --help >/dev/null
  BENCH=$PWD/artifacts/conclave-bench/conclave-bench
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# User + system CPU ticks of one or more processes, summed.
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo "$t"; }
rss_kb() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
# Bytes written to the disk that holds DIR, from /proc/diskstats (sectors written, all processes). Not
# /proc/PID/io: its write_bytes counts a whole page-cache folio (hundreds of KiB on this kernel) each time a write
# dirties it again, so a log appending 1 KiB per fdatasync showed 700 KiB per put there against 11 KiB at the device.
disk_written() { # dir
  local dev; dev=$(basename "$(df --output=source "$1" | tail -1)")
  awk -v d="$dev" '$3 == d {printf "%.0f\n", $10 * 512}' /proc/diskstats
}
now() { date +%s.%N; }

# record WORKLOAD SERVER METRIC VALUE  (appends to $RESULTS)
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }

# print_table TITLE "WORKLOAD ORDER..." : medians per (workload, metric, server) and the ratio conclave/etcd.
print_table() {
  python3 - "$RESULTS" "$1" "$2" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    w, s, m, v = line.rstrip("\n").split("\t")
    rows[(w, m, s)].append(float(v))
order = sys.argv[3].split()
keys = sorted({(w, m) for (w, m, s) in rows}, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1]))
width = max([24] + [len(m) for _, m in keys])
print(sys.argv[2])
print(f"{'workload':10} {'metric':{width}} {'etcd':>12} {'conclave':>12} {'conclave/etcd':>14}")
for w, m in keys:
    e = rows.get((w, m, "etcd")); c = rows.get((w, m, "conclave"))
    em = statistics.median(e) if e else float("nan"); cm = statistics.median(c) if c else float("nan")
    ratio = f"{cm/em:.2f}" if em else "-"
    print(f"{w:10} {m:{width}} {em:12.1f} {cm:12.1f} {ratio:>14}")
PY
}
