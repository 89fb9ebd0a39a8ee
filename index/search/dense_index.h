// The one adapter between Quarry and FAISS. Builds an index from a FAISS factory string,
// adds vectors under consecutive labels (0, 1, 2, ...: a chunk's label is its position) and
// searches with an allowed-label set. FAISS exceptions never leave this class: they become
// absl::Status. Searches run on the calling thread only (no OpenMP team), so concurrency comes
// from concurrent requests.
//
// Filtered search: when the allowed set is small, scoring it exactly is both faster and
// complete; otherwise the index is searched with an ID selector (and a wider HNSW beam), and
// if that returns fewer than k hits although the set holds k or more, it falls back to the
// exact scan. Either way top_k is full whenever enough allowed vectors exist.
//
// Persistence (for immutable shards): Build trains and fills an index in one go, WriteToFile
// stores it with FAISS's own format and ReadFromFile loads it back, memory-mapping the
// inverted lists of IVF indexes (the bulk of their bytes) so that loading is fast and replicas
// on one host share the page cache.
#ifndef QUARRY_INDEX_SEARCH_DENSE_INDEX_H_
#define QUARRY_INDEX_SEARCH_DENSE_INDEX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "index/search/huge_pages.h"
#include "index/search/label_set.h"
#include "index/search/scored_label.h"

namespace faiss {
struct Index;
}

namespace quarry::internal {
class HnswFlatSearch;  // index/search/hnsw_flat_search.h
}

namespace quarry {

enum class Metric { kInnerProduct, kL2 };

// Bounds of the per-query search effort a caller may ask for: beyond them a query costs about
// as much as the exact scan (which the flat fallback already offers).
inline constexpr int kMaxEfSearch = 4096;
inline constexpr int kMaxNprobe = 65536;

struct DenseSearchOptions {
  // HNSW beam width; 0 means the index's default (max(128, k)): HNSW32 on 384-d embedding-like
  // vectors needs about 128 to reach recall@10 0.97 (README, Performance).
  int ef_search = 0;
  // IVF lists probed per query; 0 means the index's own (set by Build, stored in the file).
  int nprobe = 0;
  // Allowed sets at or below this many labels are scored exactly.
  int64_t exact_scan_threshold = 4096;
};

class DenseIndex {
 public:
  // INVALID_ARGUMENT for a factory string FAISS rejects or a dimension outside 2..8192.
  // Specs that need training (IVF, PQ) are served by an exact flat index until a trained
  // shard replaces it (trained() tells which).
  static absl::StatusOr<std::unique_ptr<DenseIndex>> Create(int dimension,
                                                            std::string_view factory_spec,
                                                            Metric metric);
  // A ready-to-search index of `vectors` (n x dimension, row-major) under labels 0..n-1.
  // Specs that need training (IVF, PQ) are trained on a sample of the vectors (at most 256 per
  // centroid); with too few vectors to train them well (fewer than 39 per centroid) an exact
  // flat index is built instead and trained() is false. Training and adding use `threads`
  // OpenMP threads (<= 0: OpenMP's default); the caller's setting is restored afterwards.
  static absl::StatusOr<std::unique_ptr<DenseIndex>> Build(int dimension,
                                                           std::string_view factory_spec,
                                                           Metric metric,
                                                           absl::Span<const float> vectors,
                                                           int threads);

  // Loads an index WriteToFile wrote. IVF inverted lists are memory-mapped read-only (such an
  // index takes no further Add); other types are read into memory. NOT_FOUND for a missing
  // file, DATA_LOSS for one FAISS cannot read or whose dimension or metric differ from the
  // expected ones. `trained` is what trained() reports: the file does not record whether the
  // spec that built it asked for training (the shard header does).
  static absl::StatusOr<std::unique_ptr<DenseIndex>> ReadFromFile(const std::string& path,
                                                                  int dimension, Metric metric,
                                                                  bool trained = true);

  ~DenseIndex();

  // Writes the index to `path` (created or truncated) and fsyncs it. Not thread-safe against
  // concurrent Add.
  absl::Status WriteToFile(const std::string& path) const;

  int dimension() const { return dimension_; }
  Metric metric() const { return metric_; }
  // True when the index's inverted lists are served from a memory-mapped file.
  bool memory_mapped() const { return memory_mapped_; }
  int64_t size() const;
  // False when the requested spec needs training and an exact flat index serves instead.
  bool trained() const { return trained_; }

  // Asks for the vectors and graph of an in-memory Flat or HNSW index to be backed by huge
  // pages (search/huge_pages.h). Slow (seconds for a large index) but safe while searches run;
  // the index's contents do not change; `stop` can end it early. True when some memory was
  // collapsed.
  bool CollapseToHugePages(const CollapseStop& stop = {}) const;

  // Appends rows (n x dimension, row-major) under labels size() .. size()+n-1.
  // Not thread-safe against concurrent Search (callers hold a writer lock).
  // FAILED_PRECONDITION for a memory-mapped index (read-only).
  absl::Status Add(absl::Span<const float> vectors);

  // The stored vectors of labels first .. first+count-1 (row-major), exact for flat storage,
  // approximate for compressed codes (PQ, SQ). The indexer uses it to merge shards.
  absl::StatusOr<std::vector<float>> Reconstruct(int64_t first, int64_t count) const;

  // The k best allowed labels for `query`, best first; scores are inner products, or negative
  // squared L2 distances, so higher is always better. `allowed` may be null (all labels).
  absl::StatusOr<std::vector<ScoredLabel>> Search(absl::Span<const float> query, int k,
                                                  const LabelSet* allowed,
                                                  const DenseSearchOptions& options = {}) const;

 private:
  DenseIndex(int dimension, Metric metric, bool trained, std::unique_ptr<faiss::Index> index,
             bool memory_mapped = false);
  // Scores every allowed label (every label when `allowed` is null) against the stored vectors.
  absl::StatusOr<std::vector<ScoredLabel>> ExactSearch(absl::Span<const float> query, int k,
                                                       const LabelSet* allowed) const;

  int dimension_;
  Metric metric_;
  bool trained_;
  std::unique_ptr<faiss::Index> index_;
  bool memory_mapped_;
  // Serves HNSW searches of an IndexHNSWFlat (null for other index types).
  std::unique_ptr<internal::HnswFlatSearch> hnsw_flat_search_;
};

}  // namespace quarry

#endif  // QUARRY_INDEX_SEARCH_DENSE_INDEX_H_
