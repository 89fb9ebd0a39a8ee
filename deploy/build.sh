#!/usr/bin/env bash
# Configures and builds Quarry with CMake + Ninja.
# Usage: deploy/build.sh [BUILD_DIR] [extra cmake args...]
#   deploy/build.sh build                       # normal build (RelWithDebInfo)
#   deploy/build.sh build-asan -DQUARRY_SANITIZE=ON
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${1:-build}"
shift || true
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build_dir" --parallel "$(nproc)"
