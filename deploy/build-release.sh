#!/usr/bin/env bash
# The image's build step (Dockerfile, build stage): a Release build of the three binaries,
# installed into OUT_DIR/bin. Run by the Dockerfile and, on a plain Debian 12 machine, by the
# image_build_steps test (tests/deploy/check_image_build.sh), so the steps are proved without
# a Docker engine.
# Usage: deploy/build-release.sh OUT_DIR [BUILD_DIR]
#   QUARRY_FAISS=auto|avx2|debian (default auto) picks the FAISS build (see cmake/QuarryFaiss.cmake).
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir="${1:?usage: deploy/build-release.sh OUT_DIR [BUILD_DIR]}"
build_dir="${2:-build-release}"
faiss="$(echo "${QUARRY_FAISS:-auto}" | tr a-z A-Z)"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQUARRY_BUILD_TESTS=OFF \
  -DQUARRY_BUILD_BENCHMARKS=OFF -DQUARRY_FAISS="$faiss"
cmake --build "$build_dir" --parallel "$(nproc)" --target quarry-server quarry-indexer quarry
install -D -m 0755 "$build_dir/server/quarry-server" "$out_dir/bin/quarry-server"
install -D -m 0755 "$build_dir/index/quarry-indexer" "$out_dir/bin/quarry-indexer"
install -D -m 0755 "$build_dir/client/quarry" "$out_dir/bin/quarry"
