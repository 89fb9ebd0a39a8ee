#!/usr/bin/env bash
# Proves the image's build steps without a Docker engine: runs the Dockerfile's build-stage
# scripts (deploy/install-deps.sh --build-only, deploy/build-release.sh) on this Debian 12
# machine into a scratch directory, then checks the binaries it installs load and run.
# A full Release build: opt-in (cmake -DQUARRY_TEST_IMAGE_BUILD=ON; ctest -L image).
# Usage: check_image_build.sh REPOSITORY_ROOT
set -euo pipefail
root="${1:?usage: check_image_build.sh REPOSITORY_ROOT}"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/quarry-image-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
"$root/deploy/install-deps.sh" --build-only
"$root/deploy/build-release.sh" "$scratch/out" "$scratch/build"
for binary in quarry-server quarry-indexer quarry; do
  path="$scratch/out/bin/$binary"
  [[ -x "$path" ]] || { echo "missing $path" >&2; exit 1; }
  if ldd "$path" | grep -q "not found"; then
    echo "$binary: unresolved libraries:" >&2
    ldd "$path" | grep "not found" >&2
    exit 1
  fi
  "$path" --helpfull >/dev/null 2>&1 || [[ $? -eq 1 ]]  # absl exits 1 after printing help
done
# The installed server starts and answers the health probe the image's HEALTHCHECK runs.
"$scratch/out/bin/quarry-server" --address=127.0.0.1:0 --metrics_address= \
  --data_dir="$scratch/data" >"$scratch/ready" 2>"$scratch/server.log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$scratch"' EXIT
for _ in $(seq 600); do
  grep -q "listening on" "$scratch/ready" && break
  kill -0 "$server" || { cat "$scratch/server.log" >&2; exit 1; }
  sleep 0.1
done
address="$(sed -n 's/^quarry-server listening on //p' "$scratch/ready")"
"$scratch/out/bin/quarry" health --address "$address"
echo "image build steps: OK ($(du -sh "$scratch/out/bin" | cut -f1) of binaries)"
