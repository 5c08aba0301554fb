#!/usr/bin/env bash
# Bytes per key of the key-value store, in process (issue 23 item 1): loads KEYS keys of VALUE bytes into a
# KeyValueStore, forces a full collection, and prints the managed heap it holds, the bytes per key beyond the raw key
# and value bytes, and the snapshot write and restore times. The member's RSS adds the Raft log cache, the runtime and
# the collector's free space: bench/scale.sh measures that against etcd.
#   bench/keyspace-memory.sh                 # 200,000 keys of 1 KiB
#   KEYS=1000000 VALUE=256 bench/keyspace-memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=artifacts/keyspace-memory
dotnet publish bench/Conclave.Bench.Memory -c Release -o "$out" -nologo -v q >&2
"$out/keyspace-memory" "${KEYS:-200000}" "${VALUE:-1024}"
