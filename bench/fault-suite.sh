#!/usr/bin/env bash
# The fault suite at a large state (issue 23): every test of tests/Conclave.Robustness.Tests (leader kills, all
# members killed, a paused leader, partitions in plain text and TLS, membership changes, learners, catch-up by
# snapshot) with CONCLAVE_FAULT_STATE_MB MB of 16 KiB values loaded into its cluster before its faults start: 1000
# here by default; CI runs the same tests at 200 MB (the tests' default). Prints each test's load time, recoveries and
# convergence checks and the pass/fail line. Needs root (network namespaces, ss -K).
#   bench/fault-suite.sh                               # at a gigabyte
#   CONCLAVE_FAULT_STATE_MB=200 bench/fault-suite.sh   # CI's size
set -euo pipefail
cd "$(dirname "$0")/.."
export CONCLAVE_FAULT_STATE_MB="${CONCLAVE_FAULT_STATE_MB:-1000}"
CONCLAVE_BUILD=aot ./conclave --version >/dev/null
export CONCLAVE_SERVER_BINARY="$PWD/artifacts/conclave/conclave"
started=$(date +%s)
dotnet test tests/Conclave.Robustness.Tests --logger "console;verbosity=detailed" 2>&1 |
  grep -E "fault state|loaded|killed|acknowledged|caught up|received and verified|majority|minority|HashKV|linearizab|Passed|Failed|Total tests" | grep -v "^\s*\[conclave" || true
echo "fault suite at $CONCLAVE_FAULT_STATE_MB MB: $(( $(date +%s) - started )) s"
