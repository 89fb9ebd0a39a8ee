#!/usr/bin/env bash
# Bulk build and cold start on synthetic vectors (../shared/tools/gen_vectors.py), in one run:
#   1. a fresh quarry-server; ROWS vectors ingested through gRPC (`quarry bench load-vectors`);
#   2. quarry-indexer builds the collection's shard from the log (`watch --once`, 2 threads):
#      its wall time, against
#   3. FAISS alone building the same index from the same vectors in one process
#      (`quarry bench faiss-build`, 2 threads, the same FAISS build);
#   4. the server restarted on that data directory: time until it listens (shards opened,
#      checksums verified, IVF lists memory-mapped), its RSS then, and the shard's bytes.
# Usage: bench/run_bulk_build.sh    (from the repository root, after deploy/build.sh build)
# Environment: ROWS (1000000), INDEX_SPEC (IVF1024,Flat; HNSW32 works too: on 2 cores each 1M
#   build takes ~4 min and the whole script ~12), BUILD_DIR (build), QUARRY_BENCH_DATA (../scratch-bench-data; see run_dense.sh),
#   KEEP_DATA_DIR (set: the data directory is kept and its path printed).
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${ROWS:-1000000}"
index_spec="${INDEX_SPEC:-IVF1024,Flat}"
build="${BUILD_DIR:-build}"
data="${QUARRY_BENCH_DATA:-$PWD/../scratch-bench-data}"
[[ -f "$data/data/base_1m.npy" ]] || { echo "run_bulk_build: run bench/run_dense.sh first" \
  "(it generates $data/data/base_1m.npy)" >&2; exit 2; }

work="$(mktemp -d /tmp/quarry-bench-build-XXXXXX)"
source bench/process_lib.sh
cleanup() {
  stop_processes
  if [[ -z "${KEEP_DATA_DIR:-}" ]]; then rm -rf "$work"; else echo "data kept in $work"; fi
}
trap cleanup EXIT
milliseconds() { echo $((($(date +%s%N) - $1) / 1000000)); }

start_listening server QUARRY_ADDRESS "$build/server/quarry-server" --address 127.0.0.1:0 \
  --data_dir "$work/data" --log_level warn
export QUARRY_ADDRESS
"$build/client/quarry" bench load-vectors --collection bulk --vectors_npy "$data/data/base_1m.npy" \
  --rows "$rows" --index_spec "$index_spec" --batch 1000 --clients 2
stop_processes

started=$(date +%s%N)
"$build/index/quarry-indexer" watch --once --data_dir "$work/data" --threads 2 --log_level warn
indexer_ms=$(milliseconds "$started")
echo "quarry-indexer: $rows x 384 $index_spec shard built and published in $indexer_ms ms" \
  "($((rows * 1000 / indexer_ms)) vectors/s)"

"$build/client/quarry" bench faiss-build --vectors_npy "$data/data/base_1m.npy" --rows "$rows" \
  --index_spec "$index_spec" --build_threads 2

started=$(date +%s%N)
start_listening server QUARRY_ADDRESS "$build/server/quarry-server" --address 127.0.0.1:0 \
  --data_dir "$work/data" --log_level warn
echo "cold start: listening after $(milliseconds "$started") ms," \
  "RSS $(($(awk '/VmRSS/ {print $2}' "/proc/${pids[-1]}/status") / 1024)) MiB," \
  "shard files $(du -sm "$work/data/collections/bulk/shards" | cut -f1) MiB"
"$build/client/quarry" collections get bulk
