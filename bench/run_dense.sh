#!/usr/bin/env bash
# Dense Search by vector through gRPC vs the same FAISS index searched in process, in one run.
#   1. vectors: ../shared/tools/gen_vectors.py (384-d embedding-like, exact ground truth) in
#      $QUARRY_BENCH_DATA (generated there, niced, if missing: ~4 min, 1.5 GB);
#   2. a fresh quarry-server on 127.0.0.1 (ephemeral port, temporary data directory);
#   3. `quarry bench load-vectors`: ROWS vectors ingested through gRPC, INDEX_SPEC collection;
#   4. `quarry-indexer watch --once`: builds the shard; waits until the server serves it;
#   5. `quarry bench search-vector`: for each CLIENTS value, the shard's FAISS index searched in
#      this process on that many threads, then the server with that many calls in flight;
#      QPS, p50/p90/p99/p99.9, recall@10 and the server / in-process ratios.
# Usage: bench/run_dense.sh            (from the repository root, after deploy/build.sh build)
# Environment: ROWS (200000), INDEX_SPEC (HNSW32), CLIENTS (1,2), DURATION (10 s),
#   WARMUP (2 s), BUILD_DIR (build), QUARRY_BENCH_DATA (../scratch-bench-data),
#   REPEATS (3: baseline and server runs alternate, medians reported), BASELINE_HUGE_PAGES
#   (set: the baseline's index is collapsed to huge pages like the server's shards),
#   BASELINE_QUARRY_HNSW_SEARCH (set: an HNSW baseline is searched with the server's own loop,
#   index/search/hnsw_flat_search.h, instead of FAISS's: the ratio is then overhead alone),
#   SERVER_FLAGS (extra quarry-server flags, e.g. --search_poll_microseconds=0),
#   KEEP_DATA_DIR (set: the server's data directory is kept and its path printed),
#   REUSE_DATA_DIR (a kept directory: steps 3-4 are skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
rows="${ROWS:-200000}"
index_spec="${INDEX_SPEC:-HNSW32}"
clients="${CLIENTS:-1,2}"
build="${BUILD_DIR:-build}"
data="${QUARRY_BENCH_DATA:-$repo/../scratch-bench-data}"

case "$rows" in
  200000) truth=gt_200k.npy ;;
  1000000) truth=gt_1m.npy ;;
  *) echo "run_dense: ROWS must be 200000 or 1000000 (the ground truth gen_vectors.py writes)" >&2
     exit 2 ;;
esac

if [[ ! -f "$data/data/$truth" ]]; then
  echo "run_dense: generating vectors in $data (needs python3-numpy, python3-faiss)"
  mkdir -p "$data/data"
  (cd "$data" && nice -n 10 /usr/bin/python3 "$repo/../shared/tools/gen_vectors.py")
fi

server_dir="${REUSE_DATA_DIR:-$(mktemp -d /tmp/quarry-bench-dense-XXXXXX)}"
[[ -z "${REUSE_DATA_DIR:-}" ]] || KEEP_DATA_DIR=1
work="$server_dir"
source bench/process_lib.sh
cleanup() {
  stop_processes
  if [[ -z "${KEEP_DATA_DIR:-}" ]]; then rm -rf "$server_dir"; else echo "data kept in $server_dir"; fi
}
trap cleanup EXIT

start_listening server address "$build/server/quarry-server" --address 127.0.0.1:0 \
  --data_dir "$server_dir/data" --log_level warn ${SERVER_FLAGS:-}
server_pid="${pids[-1]}"
[[ -n "$address" ]] || { cat "$server_dir/server.log"; exit 1; }
export QUARRY_ADDRESS="$address"
collection=bench
echo "== server $address: $rows x 384, $index_spec"

if [[ -z "${REUSE_DATA_DIR:-}" ]]; then
  "$build/client/quarry" bench load-vectors --collection "$collection" \
    --vectors_npy "$data/data/base_1m.npy" --rows "$rows" --index_spec "$index_spec" \
    --batch 1000 --clients 2

  started=$(date +%s%N)
  "$build/index/quarry-indexer" watch --once --data_dir "$server_dir/data" --threads 2 \
    --log_level warn
  echo "indexer: shard of $rows vectors built and published in $((($(date +%s%N) - started) / 1000000)) ms"
  for _ in $(seq 600); do
    stats="$("$build/client/quarry" collections get "$collection" --json)"
    if grep -q '"fresh_chunks": *"0"' <<<"$stats" && grep -q '"shards": *"1"' <<<"$stats"; then
      break
    fi
    sleep 0.5
  done
fi
shard="$(find "$server_dir/data/collections/$collection/shards" -mindepth 1 -maxdepth 1 -type d \
  -not -name '.*' | head -n 1)"

"$build/client/quarry" bench search-vector --collection "$collection" \
  --queries_npy "$data/data/queries.npy" --truth_npy "$data/data/$truth" --k 10 \
  --baseline_shard "$shard" --server_pid "$server_pid" --clients "$clients" \
  --repeats "${REPEATS:-3}" ${BASELINE_HUGE_PAGES:+--baseline_huge_pages} \
  ${BASELINE_QUARRY_HNSW_SEARCH:+--baseline_quarry_hnsw_search} \
  --duration_seconds "${DURATION:-10}" --warmup_seconds "${WARMUP:-2}"
