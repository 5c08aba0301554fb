#!/usr/bin/env bash
# Builds the Conclave container image (Containerfile) with podman or buildah, from this machine's native binary and
# the shared libraries it needs; no registry is contacted. Usage: deploy/container/build.sh [TAG] (default conclave:dev).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tag="${1:-conclave:dev}"
CONCLAVE_BUILD=aot "$root/conclave" --version >/dev/null
bin="$root/artifacts/conclave/conclave"

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
fs="$context/rootfs"
install -D -m 0755 "$bin" "$fs/usr/local/bin/conclave"
# The loader and the libraries the binary links (libc, libm), plus OpenSSL, which .NET loads at run time for TLS.
libs=$(ldd "$bin" | awk '/=>/ { print $3 } /^[ \t]*\/lib/ { print $1 }')
for lib in $libs $(ls /usr/lib/x86_64-linux-gnu/libssl.so.3 /usr/lib/x86_64-linux-gnu/libcrypto.so.3 2>/dev/null); do
  install -D -m 0644 "$(readlink -f "$lib")" "$fs$lib"
done
chmod 0755 "$fs"/lib64/ld-linux-*.so.* 2>/dev/null || true
# Trust for outbound TLS (an OTLP collector, OIDC, webhooks), a user for USER 10001, and writable places.
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$fs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nconclave:x:10001:10001:conclave:/var/lib/conclave:/sbin/nologin\n' > "$fs/etc/passwd"
printf 'root:x:0:\nconclave:x:10001:\n' > "$fs/etc/group"
install -d -m 1777 "$fs/tmp"
install -d -m 0700 "$context/state"
cp "$here/Containerfile" "$context/Containerfile"

if command -v podman >/dev/null 2>&1; then
  podman build -t "$tag" -f "$context/Containerfile" "$context"
elif command -v buildah >/dev/null 2>&1; then
  buildah bud -t "$tag" -f "$context/Containerfile" "$context"
else
  echo "podman or buildah is needed (Debian: apt-get install podman)" >&2
  exit 1
fi
