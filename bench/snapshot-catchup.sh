#!/usr/bin/env bash
# Catch-up by snapshot at full size (ADR 0010): the CI test LargeSnapshotCatchUpTests with a bigger state.
# 3 members load CONCLAVE_CATCHUP_MB (default 1000) MB of 16 KiB values, one follower is down while the leader compacts
# past it, comes back under writes, loses its connection once mid-fetch, and must converge; in the second test the
# leader it fetches from is killed mid-fetch instead, and the fetch must continue from the next leader. Prints the load
# time, the fetch rate (MB/s), the time from restart to caught up, and the HashKV check. Needs root (ss -K cuts the
# connection).
set -euo pipefail
cd "$(dirname "$0")/.."
export CONCLAVE_CATCHUP_MB="${CONCLAVE_CATCHUP_MB:-1000}"
CONCLAVE_BUILD=aot ./conclave --version >/dev/null
export CONCLAVE_SERVER_BINARY="$PWD/artifacts/conclave/conclave"
dotnet test tests/Conclave.Robustness.Tests --filter "FullyQualifiedName~LargeSnapshotCatchUp" --logger "console;verbosity=detailed" 2>&1 |
  grep -E "loaded|killed|caught up|received and verified|stopped at|again, from|HashKV|Passed|Failed" | grep -v "^\s*\[conclave" || true
