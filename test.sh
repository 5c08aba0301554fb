#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests drive for real (etcdctl 3.4 from Debian's etcd-client,
# etcd 3.4 from etcd-server for side-by-side checks, Debian's chromium for the console's browser tests, clang for the
# native build, prometheus and promtool for the deploy/ checks) when missing, the npm clients in tests/clients from their lockfiles (Node.js and npm must be installed),
# builds, runs every test project, and ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"

missing=()
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v clang >/dev/null 2>&1 || missing+=(clang)
[ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if ((${#missing[@]})); then
  echo "installing ${missing[*]} ..."
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null \
    || { echo "could not install ${missing[*]}"; echo "0 passed, 1 failed"; exit 1; }
  # Debian's prometheus package (and the node exporter it recommends) start services where systemd runs; the tests
  # use only the binaries (their own prometheus on a free port), so those services are stopped and disabled.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
  fi
fi

# The npm clients the compatibility tests drive (tests/clients/*) and the Node.js client's own packages (clients/node), at
# the versions their lockfiles pin: installed when node_modules is missing or older than the lockfile.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node or npm is missing: install Node.js 18 or later with npm (the npm client tests in tests/clients need them)"
  echo "0 passed, 1 failed"; exit 1
fi
for client in tests/clients/*/ clients/node/; do
  lock="${client}package-lock.json" installed="${client}node_modules/.package-lock.json"
  if [ -f "$lock" ] && { [ ! -f "$installed" ] || [ "$lock" -nt "$installed" ]; }; then
    npm ci --prefix "$client" --no-audit --no-fund --loglevel=error >/dev/null \
      || { echo "npm ci in $client failed"; echo "0 passed, 1 failed"; exit 1; }
  fi
done
# The Node.js client is built (tsc, the protos copied from src/Conclave.Api) before its tests run it (NodeClientTests).
npm run build --prefix clients/node --silent >/dev/null \
  || { echo "npm run build in clients/node failed"; echo "0 passed, 1 failed"; exit 1; }

# The member processes the cluster and fault tests start run as the binary users get: ./conclave's Native AOT
# build (published here when stale, 3-4 minutes the first time).
if ! CONCLAVE_BUILD=aot ./conclave --version >/dev/null; then
  echo "could not build the native conclave binary (./conclave)"; echo "0 passed, 1 failed"; exit 1
fi
export CONCLAVE_SERVER_BINARY="$PWD/artifacts/conclave/conclave"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet test Conclave.slnx "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

passed=0; failed=0; projects=0
while IFS= read -r line; do
  p=$(sed -n 's/.*Passed: *\([0-9]*\).*/\1/p' <<<"$line")
  f=$(sed -n 's/.*Failed: *\([0-9]*\),.*/\1/p' <<<"$line")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); projects=$((projects + 1))
done < <(grep -E '^(Passed|Failed)! +- +Failed: ' "$log")

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The build broke or a test host crashed: never report that as green.
  echo "dotnet test exited with $status without a failing test count (build error or crashed test host)"
  failed=1
fi
echo "test projects: $projects"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
