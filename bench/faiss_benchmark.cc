// Dense search in process, one query per iteration on one thread: FAISS called directly, and
// the same index through Quarry's adapter (DenseIndex: validation, OpenMP pinning, sorting;
// HNSW-flat searched by Quarry's own loop, index/search/hnsw_flat_search.h), both with the
// server's default HNSW beam. The full in-process vs gRPC comparison is
// `quarry bench search-vector --baseline_shard`.
// Also one inner product of two 384-d vectors already in cache: FAISS's kernel against
// vector_distance.h's fastest (the arithmetic alone, without the memory stalls of a search).
// Data: 50k random unit vectors of 384 dimensions (a uniform sphere is a hard case for HNSW;
// bench/run_dense.sh measures the embedding-like vectors of ../shared/tools/gen_vectors.py).
#include <benchmark/benchmark.h>
#include <faiss/Index.h>
#include <faiss/IndexHNSW.h>
#include <faiss/index_io.h>
#include <omp.h>
#include <stdlib.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/random_vectors.h"
#include "index/search/dense_index.h"
#include "index/search/vector_distance.h"
#include "index/store/filesystem.h"

namespace quarry::bench {
namespace {

constexpr int kDimension = 384;
constexpr int64_t kVectors = 50000;
constexpr int kQueries = 1000;
constexpr int kK = 10;
constexpr int kEfSearch = 128;  // the server's default beam, max(128, k)

// Both views of one index: Quarry's adapter, and FAISS's own object read from the same file.
struct Indexes {
  std::unique_ptr<DenseIndex> dense;
  std::unique_ptr<faiss::Index> faiss;
  std::vector<float> queries;
};

const Indexes* Load(benchmark::State& state, const std::string& spec) {
  static auto* const cache = new std::map<std::string, std::unique_ptr<Indexes>>();
  auto& slot = (*cache)[spec];
  if (slot != nullptr) return slot.get();
  const std::vector<float> vectors = RandomUnitVectors(kVectors, kDimension, 1);
  absl::StatusOr<std::unique_ptr<DenseIndex>> built =
      DenseIndex::Build(kDimension, spec, Metric::kInnerProduct, vectors, 2);
  if (!built.ok()) {
    state.SkipWithError(built.status().ToString().c_str());
    return nullptr;
  }
  std::string path = absl::StrCat(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp",
                                   "/quarry-faiss-bench-XXXXXX");
  const int fd = mkstemp(path.data());
  if (fd < 0 || !(*built)->WriteToFile(path).ok()) {
    state.SkipWithError("cannot write the index to a temporary file");
    return nullptr;
  }
  close(fd);
  auto indexes = std::make_unique<Indexes>();
  indexes->dense = *std::move(built);
  indexes->faiss.reset(faiss::read_index(path.c_str()));
  RemoveAll(path).IgnoreError();
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(indexes->faiss.get())) {
    hnsw->hnsw.efSearch = kEfSearch;
  }
  indexes->queries = RandomUnitVectors(kQueries, kDimension, 2);
  slot = std::move(indexes);
  return slot.get();
}

void FaissSearch(benchmark::State& state, const std::string& spec) {
  const Indexes* indexes = Load(state, spec);
  if (indexes == nullptr) return;
  omp_set_num_threads(1);
  std::vector<float> distances(kK);
  std::vector<faiss::Index::idx_t> labels(kK);
  int next = 0;
  for (auto _ : state) {
    indexes->faiss->search(1, indexes->queries.data() + (next++ % kQueries) * kDimension, kK,
                           distances.data(), labels.data());
    benchmark::DoNotOptimize(labels.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void DenseIndexSearch(benchmark::State& state, const std::string& spec) {
  const Indexes* indexes = Load(state, spec);
  if (indexes == nullptr) return;
  DenseSearchOptions options;
  options.ef_search = kEfSearch;
  int next = 0;
  for (auto _ : state) {
    absl::Span<const float> query(indexes->queries.data() + (next++ % kQueries) * kDimension,
                                  kDimension);
    benchmark::DoNotOptimize(indexes->dense->Search(query, kK, nullptr, options));
  }
  state.SetItemsProcessed(state.iterations());
}

void InnerProductKernel(benchmark::State& state, const VectorKernels& kernels) {
  const std::vector<float> vectors = RandomUnitVectors(2, kDimension, 3);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        kernels.inner_product(vectors.data(), vectors.data() + kDimension, kDimension));
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(InnerProductKernel, Faiss, FaissVectorKernels());
BENCHMARK_CAPTURE(InnerProductKernel, Fastest, FastestVectorKernels());
BENCHMARK_CAPTURE(FaissSearch, Flat, std::string("Flat"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(DenseIndexSearch, Flat, std::string("Flat"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(FaissSearch, HNSW32, std::string("HNSW32"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(DenseIndexSearch, HNSW32, std::string("HNSW32"))
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(FaissSearch, IVF256_Flat, std::string("IVF256,Flat"))
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(DenseIndexSearch, IVF256_Flat, std::string("IVF256,Flat"))
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace quarry::bench
