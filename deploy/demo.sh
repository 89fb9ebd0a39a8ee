#!/usr/bin/env bash
# The demo command: installs dependencies, builds, starts quarry-server on its built-in
# defaults (built-in embedder, no LLM, no external services), loads the sample corpus (Quarry's
# own documentation, deploy/sample-corpus) and shows search and generate working.
# Usage: deploy/demo.sh [--stop]   (--stop: shut the server down at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

deploy/install-deps.sh
deploy/build.sh build

data_dir="${QUARRY_DEMO_DATA_DIR:-$root/quarry-demo-data}"
rm -rf "$data_dir"
log="$data_dir.log"
ready="$(mktemp)"
build/server/quarry-server --address 127.0.0.1:0 --metrics_address 127.0.0.1:0 --data_dir "$data_dir" >"$ready" 2>"$log" &
server_pid=$!
trap 'rm -f "$ready"' EXIT

# Wait for the readiness line (the server prints it once it is listening).
for _ in $(seq 1 300); do
  if grep -q "listening on" "$ready"; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$log"; exit 1; fi
  sleep 0.1
done
address="$(sed -n 's/^quarry-server listening on //p' "$ready")"
[[ -n "$address" ]] || { echo "server did not start; log: $log"; exit 1; }
export QUARRY_ADDRESS="$address"
quarry=build/client/quarry

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step "$quarry" collections create docs
step "$quarry" ingest --collection docs deploy/sample-corpus
step "$quarry" search "what happens to my writes if the server crashes?" --collection docs --k 3
step "$quarry" search "filter by metadata" --collection docs --k 3 --mode lexical
step "$quarry" ask "How does Quarry answer when no LLM is configured?" --collection docs

if [[ "${1:-}" == "--stop" ]]; then
  kill -TERM "$server_pid"
  wait "$server_pid"
  echo
  echo "server stopped; data kept in $data_dir"
else
  echo
  echo "quarry-server is running at $address (pid $server_pid, log $log, data $data_dir)."
  echo "Try: QUARRY_ADDRESS=$address $quarry search \"how are chunks made?\" --collection docs"
  echo "Stop it with: kill $server_pid"
fi
