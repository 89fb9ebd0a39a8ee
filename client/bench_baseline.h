// The in-process baseline of `quarry bench search-vector`: the FAISS index of a shard the
// server serves (its dense.faiss, read as the server reads it), searched directly with FAISS
// in this process, one query at a time, on 1..N threads, with the parameters the server uses
// (HNSW efSearch 128 unless told otherwise, the IVF nprobe stored in the file). Server figures
// are divided by these, measured in the same run on the same machine. HNSW-flat indexes can
// also be searched with the loop the server itself uses (index/search/hnsw_flat_search.h), which
// is faster than FAISS's own: server / that baseline is the service's overhead alone.
#ifndef QUARRY_CLIENT_BENCH_BASELINE_H_
#define QUARRY_CLIENT_BENCH_BASELINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/bench_load.h"
#include "index/readers/npy_file.h"

namespace faiss {
struct Index;
}

namespace quarry::internal {
class HnswFlatSearch;  // index/search/hnsw_flat_search.h
}

namespace quarry::bench {

struct BaselineOptions {
  // > 0: HNSW's beam width.
  int ef_search = 0;
  // Collapse the index's memory to huge pages as the server does for the shards it serves
  // (index/huge_page_collapser.h), so that the two compare like for like.
  bool huge_pages = false;
  // Search an HNSW-flat index with Quarry's loop instead of FAISS's IndexHNSW::search.
  bool quarry_hnsw_search = false;
};

class ShardBaseline {
 public:
  // Opens the shard in `shard_directory` (checksums verified) for its chunk → document id
  // map, and reads its FAISS index file directly. INVALID_ARGUMENT when
  // `quarry_hnsw_search` is asked for an index that is not HNSW-flat.
  static absl::StatusOr<std::unique_ptr<ShardBaseline>> Open(const std::string& shard_directory,
                                                             int dimension,
                                                             const BaselineOptions& options);
  ~ShardBaseline();

  // A line naming the index type, its size and the search parameters.
  std::string Describe() const;
  // For a flat index: the fastest of a few single-threaded passes that only read every stored
  // vector once (the memory-bandwidth floor of an exact scan), in milliseconds of thread CPU
  // time; else 0.
  double ScanFloorMilliseconds() const;
  // The caller's id of the document whose vector has FAISS label `label`.
  const std::string& DocumentId(int64_t label) const { return document_ids_[label]; }

  struct Result {
    int threads = 0;
    double queries_per_second = 0;
    LatencySummary latency;
    std::vector<std::vector<std::string>> hits;  // per query (first pass), document ids
  };
  // `threads` threads search queries round-robin for `duration`, each one query at a time on
  // a single OpenMP thread (as the server does).
  Result Run(const NpyMatrix<float>& queries, int k, int threads, absl::Duration duration) const;

 private:
  ShardBaseline() = default;

  std::unique_ptr<faiss::Index> index_;
  bool huge_pages_ = false;  // the index's memory was collapsed to huge pages
  // Set: searches go through Quarry's HNSW-flat loop with this beam width.
  std::unique_ptr<internal::HnswFlatSearch> quarry_hnsw_search_;
  int ef_search_ = 0;
  std::vector<std::string> document_ids_;  // by label
};

}  // namespace quarry::bench

#endif  // QUARRY_CLIENT_BENCH_BASELINE_H_
