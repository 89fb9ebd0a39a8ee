#!/usr/bin/env bash
# The test command: installs dependencies (Debian packages), builds, and runs every test
# twice: a normal build, then a build with AddressSanitizer + UndefinedBehaviorSanitizer.
# Usage: deploy/test.sh            (as root, or a user with sudo)
# Environment: QUARRY_SKIP_SANITIZE=1 runs the normal build only (quicker local runs).
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh

run_suite() {
  local build_dir="$1"
  shift
  echo "=== building $build_dir"
  deploy/build.sh "$build_dir" "$@"
  echo "=== testing $build_dir"
  (cd "$build_dir" && ctest --output-on-failure --timeout 900 -j "$(nproc)")
}

run_suite build
if [[ "${QUARRY_SKIP_SANITIZE:-0}" != "1" ]]; then
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  run_suite build-asan -DQUARRY_SANITIZE=ON
fi
echo "=== all tests passed"
