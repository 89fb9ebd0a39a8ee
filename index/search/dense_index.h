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
#include "index/search/label_set.h"
#include "index/search/scored_label.h"

namespace faiss {
struct Index;
}

namespace quarry {

enum class Metric { kInnerProduct, kL2 };

struct DenseSearchOptions {
  // HNSW beam width; 0 means the index's default (max(64, k)).
  int ef_search = 0;
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
  ~DenseIndex();

  int dimension() const { return dimension_; }
  int64_t size() const;
  // False when the requested spec needs training and an exact flat index serves instead.
  bool trained() const { return trained_; }

  // Appends rows (n x dimension, row-major) under labels size() .. size()+n-1.
  // Not thread-safe against concurrent Search (callers hold a writer lock).
  absl::Status Add(absl::Span<const float> vectors);

  // The k best allowed labels for `query`, best first; scores are inner products, or negative
  // squared L2 distances, so higher is always better. `allowed` may be null (all labels).
  absl::StatusOr<std::vector<ScoredLabel>> Search(absl::Span<const float> query, int k,
                                                  const LabelSet* allowed,
                                                  const DenseSearchOptions& options = {}) const;

 private:
  DenseIndex(int dimension, Metric metric, bool trained, std::unique_ptr<faiss::Index> index);
  // Scores every allowed label (every label when `allowed` is null) against the stored vectors.
  absl::StatusOr<std::vector<ScoredLabel>> ExactSearch(absl::Span<const float> query, int k,
                                                       const LabelSet* allowed) const;

  int dimension_;
  Metric metric_;
  bool trained_;
  std::unique_ptr<faiss::Index> index_;
};

}  // namespace quarry

#endif  // QUARRY_INDEX_SEARCH_DENSE_INDEX_H_
