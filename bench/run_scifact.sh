#!/usr/bin/env bash
# The text paths on the SciFact corpus (../shared/data/scifact), in one run:
#   1. quarry-fake-llm (the tests' OpenAI-compatible fake, as a process) and a fresh
#      quarry-server using it, on 127.0.0.1 with ephemeral ports and a temporary data directory;
#   2. the corpus ingested once with `quarry ingest` (built-in embedder): wall time to
#      acknowledge every document;
#   3. `quarry bench search-text` in each mode (dense = built-in embedder + HNSW, lexical =
#      BM25, hybrid = both fused), with the server's embedding share of its search time;
#   4. `quarry bench ingest` (the corpus again, under fresh ids, 100 documents per call);
#   5. `quarry bench generate` against the fake LLM (32 streamed tokens per answer).
# Usage: bench/run_scifact.sh        (from the repository root, after deploy/build.sh build)
# Environment: CLIENTS (1,2), DURATION (10 s), WARMUP (2 s), BUILD_DIR (build),
#   SERVER_FLAGS (extra quarry-server flags, e.g. --search_poll_microseconds=0).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD_DIR:-build}"
scifact="${QUARRY_SCIFACT_DIR:-$PWD/../shared/data/scifact}"
clients="${CLIENTS:-1,2}"
load=(--clients "$clients" --duration_seconds "${DURATION:-10}" --warmup_seconds "${WARMUP:-2}")

work="$(mktemp -d /tmp/quarry-bench-scifact-XXXXXX)"
source bench/process_lib.sh
trap 'stop_processes; rm -rf "$work"' EXIT

start_listening fake-llm llm "$build/tests/quarry-fake-llm" --tokens 32
start_listening server address "$build/server/quarry-server" --address 127.0.0.1:0 \
  --data_dir "$work/data" --log_level warn --llm_base_url "$llm" --llm_model fake-model \
  ${SERVER_FLAGS:-}
[[ -n "$address" && -n "$llm" ]] || { cat "$work"/*.log; exit 1; }
export QUARRY_ADDRESS="$address"
quarry="$build/client/quarry"

"$quarry" collections create scifact >/dev/null
started=$(date +%s%N)
"$quarry" ingest --collection scifact "$scifact/corpus.jsonl" >/dev/null
echo "ingest: SciFact corpus ($(wc -l <"$scifact/corpus.jsonl") documents) acknowledged in" \
  "$((($(date +%s%N) - started) / 1000000)) ms (quarry ingest, 256 per call)"

for mode in dense lexical hybrid; do
  "$quarry" bench search-text --collection scifact --queries_jsonl "$scifact/queries.jsonl" \
    --mode "$mode" "${load[@]}"
done
"$quarry" bench ingest --collection scifact --documents_path "$scifact/corpus.jsonl" \
  --batch 100 "${load[@]}"
"$quarry" bench generate --collection scifact --queries_jsonl "$scifact/queries.jsonl" \
  "${load[@]}"
