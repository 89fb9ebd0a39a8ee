// Searches a FAISS HNSW index over flat vectors (IndexHNSWFlat: "HNSW32" and the like) with
// the algorithm of FAISS 1.7.3's IndexHNSW::search, step for step: greedy descent through the
// upper levels, then on level 0 FAISS's candidate queue and stopping rule, scoring neighbours
// in the same order. With FAISS's own distance kernels it returns exactly what FAISS returns
// for the same k and efSearch parameter (tests/unit/search/hnsw_flat_search_test.cc checks it,
// ties included). It is faster:
//   - before scoring a node's unvisited neighbours it prefetches the start of each one's
//     vector, so their cache misses overlap instead of each score waiting on its own (FAISS
//     1.7.3 scores them one at a time; FAISS 1.8 batches them in fours for the same reason);
//   - while it scores them, it fetches the neighbour list of the candidate that comes next if
//     none of them is closer (found in the same scan of the queue that pops the closest), so
//     the next step does not start with two dependent cache misses;
//   - its visited-node marks are reused between queries (FAISS allocates and zeroes one byte
//     per vector on every call) and distances are not behind virtual calls;
//   - by default it scores with vector_distance.h's fastest kernels, whose sums may differ from
//     FAISS 1.7.3's in the last bits: a near-tie can then order the other way and send the
//     beam elsewhere, so a few hits may differ from FAISS's (the test wants 99% the same).
// 200k x 384, efSearch 128, one thread (bench/run_dense.sh; README, Performance): 0.44-0.48 ms
// of CPU per query with FAISS's search, 0.37-0.39 with this one before it fetched ahead and
// with FAISS's kernels, 0.29-0.33 now. Other index types, metrics and HNSW settings stay with
// FAISS.
#ifndef QUARRY_INDEX_SEARCH_HNSW_FLAT_SEARCH_H_
#define QUARRY_INDEX_SEARCH_HNSW_FLAT_SEARCH_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "index/search/label_set.h"
#include "index/search/scored_label.h"
#include "index/search/vector_distance.h"

namespace faiss {
struct Index;
struct IndexHNSW;
}  // namespace faiss

namespace quarry::internal {

class HnswFlatSearch {
 public:
  // Null unless `index` is exactly a faiss::IndexHNSWFlat with inner-product or L2 metric,
  // FAISS's default search settings (one upper-level beam, bounded queue, relative-distance
  // stop) and at most 512 neighbours per node on level 0. `index` must outlive the result.
  // Scores come from `kernels`: with FaissVectorKernels(), results equal FAISS's bit for bit.
  static std::unique_ptr<HnswFlatSearch> For(const faiss::Index& index,
                                             const VectorKernels& kernels = FastestVectorKernels());
  ~HnswFlatSearch();

  // The up to k best labels of `query` (the index's dimension of floats), best first; scores
  // are inner products, or negative squared L2 distances. As in FAISS 1.7.3 called with
  // SearchParametersHNSW::efSearch = ef: the search stops by ef, while its candidate queue holds
  // max(the index's own efSearch, k) nodes.
  // With `allowed`, other labels are traversed but never returned (FAISS's ID selector).
  // Thread-safe; not concurrently with adding to the index.
  std::vector<ScoredLabel> Search(const float* query, int k, int ef, const LabelSet* allowed) const;

 private:
  class VisitedMarks;

  HnswFlatSearch(const faiss::IndexHNSW& index, const VectorKernels& kernels);
  std::unique_ptr<VisitedMarks> TakeVisitedMarks() const;
  void ReturnVisitedMarks(std::unique_ptr<VisitedMarks> marks) const;

  const faiss::IndexHNSW& index_;
  const VectorKernels kernels_;
  // One set of marks per concurrent search, kept for the next one.
  mutable absl::Mutex idle_marks_mutex_;
  mutable std::vector<std::unique_ptr<VisitedMarks>> idle_marks_ ABSL_GUARDED_BY(idle_marks_mutex_);
};

}  // namespace quarry::internal

#endif  // QUARRY_INDEX_SEARCH_HNSW_FLAT_SEARCH_H_
