#include "index/search/hnsw_flat_search.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/impl/HNSW.h>
#include <faiss/utils/Heap.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <typeinfo>
#include <utility>

namespace quarry::internal {
namespace {

using NodeId = faiss::HNSW::storage_idx_t;

// The most neighbours one node has on level 0 (2 x M); larger graphs are left to FAISS.
constexpr size_t kMaxLevelZeroNeighbours = 512;
constexpr uintptr_t kCacheLineBytes = 64;

// The distance FAISS's HNSW search orders nodes by, smaller is closer: squared L2, or the
// negated inner product (what FAISS 1.7.3's HNSW computes for inner-product storage).
class FlatDistance {
 public:
  FlatDistance(const faiss::IndexFlat& storage, const VectorKernels& kernels, const float* query)
      : vectors_(storage.get_xb()),
        dimension_(static_cast<size_t>(storage.d)),
        inner_product_(storage.metric_type == faiss::METRIC_INNER_PRODUCT),
        kernel_(inner_product_ ? kernels.inner_product : kernels.squared_l2),
        query_(query) {}

  float operator()(NodeId node) const {
    const float distance = kernel_(query_, VectorOf(node), dimension_);
    return inner_product_ ? -distance : distance;
  }

  void Prefetch(NodeId node) const { __builtin_prefetch(VectorOf(node), 0, 3); }

 private:
  const float* VectorOf(NodeId node) const {
    return vectors_ + static_cast<size_t>(node) * dimension_;
  }

  const float* vectors_;
  size_t dimension_;
  bool inner_product_;
  VectorKernel kernel_;
  const float* query_;
};

// FAISS 1.7.3's MinimaxHeap::pop_min, choosing the same node among equal distances (the last
// slot), that also returns the node the next pop would take if nothing closer is pushed
// meanwhile, barring ties (-1 if none), so that its neighbour list can be fetched ahead.
NodeId PopClosest(faiss::HNSW::MinimaxHeap& heap, float* distance, NodeId* runner_up) {
  int best = -1;
  int second = -1;
  for (int slot = heap.k - 1; slot >= 0; --slot) {
    if (heap.ids[slot] == -1) continue;
    const float d = heap.dis[slot];
    if (best < 0 || d < heap.dis[best]) {
      second = best;
      best = slot;
    } else if (second < 0 || d < heap.dis[second]) {
      second = slot;
    }
  }
  *runner_up = second < 0 ? -1 : heap.ids[second];
  if (best < 0) return -1;
  *distance = heap.dis[best];
  const NodeId node = heap.ids[best];
  heap.ids[best] = -1;
  --heap.nvalid;
  return node;
}

}  // namespace

// One byte per node holding the generation of the query that last visited it, so starting a
// query is one increment instead of clearing the table.
class HnswFlatSearch::VisitedMarks {
 public:
  void StartQuery(size_t nodes) {
    if (marks_.size() < nodes) marks_.resize(nodes, 0);
    if (++generation_ == 0) {
      std::fill(marks_.begin(), marks_.end(), 0);
      generation_ = 1;
    }
  }
  // True the first time `node` is visited in this query.
  bool Visit(NodeId node) {
    uint8_t& mark = marks_[static_cast<size_t>(node)];
    if (mark == generation_) return false;
    mark = generation_;
    return true;
  }

 private:
  std::vector<uint8_t> marks_;
  uint8_t generation_ = 0;
};

std::unique_ptr<HnswFlatSearch> HnswFlatSearch::For(const faiss::Index& index,
                                                    const VectorKernels& kernels) {
  if (typeid(index) != typeid(faiss::IndexHNSWFlat)) return nullptr;
  const auto& hnsw_index = static_cast<const faiss::IndexHNSWFlat&>(index);
  const auto* storage = dynamic_cast<const faiss::IndexFlat*>(hnsw_index.storage);
  if (storage == nullptr || hnsw_index.reconstruct_from_neighbors != nullptr) return nullptr;
  if (storage->metric_type != faiss::METRIC_INNER_PRODUCT &&
      storage->metric_type != faiss::METRIC_L2) {
    return nullptr;
  }
  const faiss::HNSW& hnsw = hnsw_index.hnsw;
  if (hnsw.upper_beam != 1 || !hnsw.search_bounded_queue || !hnsw.check_relative_distance ||
      hnsw.nb_neighbors(0) > static_cast<int>(kMaxLevelZeroNeighbours)) {
    return nullptr;
  }
  return std::unique_ptr<HnswFlatSearch>(new HnswFlatSearch(hnsw_index, kernels));
}

HnswFlatSearch::HnswFlatSearch(const faiss::IndexHNSW& index, const VectorKernels& kernels)
    : index_(index), kernels_(kernels) {}

HnswFlatSearch::~HnswFlatSearch() = default;

std::unique_ptr<HnswFlatSearch::VisitedMarks> HnswFlatSearch::TakeVisitedMarks() const {
  {
    absl::MutexLock lock(&idle_marks_mutex_);
    if (!idle_marks_.empty()) {
      std::unique_ptr<VisitedMarks> marks = std::move(idle_marks_.back());
      idle_marks_.pop_back();
      return marks;
    }
  }
  return std::make_unique<VisitedMarks>();
}

void HnswFlatSearch::ReturnVisitedMarks(std::unique_ptr<VisitedMarks> marks) const {
  absl::MutexLock lock(&idle_marks_mutex_);
  idle_marks_.push_back(std::move(marks));
}

std::vector<ScoredLabel> HnswFlatSearch::Search(const float* query, int k, int ef,
                                                const LabelSet* allowed) const {
  const faiss::HNSW& hnsw = index_.hnsw;
  std::vector<ScoredLabel> hits;
  if (k <= 0 || hnsw.entry_point < 0) return hits;
  const FlatDistance distance(static_cast<const faiss::IndexFlat&>(*index_.storage), kernels_,
                              query);
  auto is_allowed = [allowed](NodeId node) {
    return allowed == nullptr || allowed->Contains(node);
  };

  NodeId nearest = hnsw.entry_point;
  float nearest_distance = distance(nearest);
  for (int level = hnsw.max_level; level >= 1; --level) {
    for (NodeId previous = -1; previous != nearest;) {
      previous = nearest;
      size_t begin = 0;
      size_t end = 0;
      hnsw.neighbor_range(nearest, level, &begin, &end);
      for (size_t i = begin; i < end && hnsw.neighbors[i] >= 0; ++i) {
        const float d = distance(hnsw.neighbors[i]);
        if (d < nearest_distance) {
          nearest = hnsw.neighbors[i];
          nearest_distance = d;
        }
      }
    }
  }

  // Level 0: FAISS's own heaps, so that ties break as in FAISS.
  std::vector<float> result_distances(static_cast<size_t>(k));
  std::vector<int64_t> result_labels(static_cast<size_t>(k));
  faiss::maxheap_heapify(static_cast<size_t>(k), result_distances.data(), result_labels.data());
  int results = 0;
  auto offer = [&](NodeId node, float d) {
    if (!is_allowed(node)) return;
    if (results < k) {
      faiss::maxheap_push(static_cast<size_t>(++results), result_distances.data(),
                          result_labels.data(), d, static_cast<int64_t>(node));
    } else if (d < result_distances[0]) {
      faiss::maxheap_replace_top(static_cast<size_t>(results), result_distances.data(),
                                 result_labels.data(), d, static_cast<int64_t>(node));
    }
  };

  std::unique_ptr<VisitedMarks> visited = TakeVisitedMarks();
  visited->StartQuery(static_cast<size_t>(index_.ntotal));
  // Sized as FAISS 1.7.3 sizes it: by the index's own efSearch, not the one asked for.
  faiss::HNSW::MinimaxHeap candidates(std::max(hnsw.efSearch, k));
  candidates.push(nearest, nearest_distance);
  offer(nearest, nearest_distance);
  visited->Visit(nearest);

  const size_t level_zero_neighbours = static_cast<size_t>(hnsw.nb_neighbors(0));
  NodeId fresh[kMaxLevelZeroNeighbours];
  while (candidates.size() > 0) {
    float closest_distance = 0;
    NodeId runner_up = -1;
    const NodeId closest = PopClosest(candidates, &closest_distance, &runner_up);
    if (candidates.count_below(closest_distance) >= ef) break;
    // The runner-up is likely next: its entry in the offsets now, its neighbour list (a few
    // cache lines) once this node's neighbours are scored and the entry has arrived.
    if (runner_up >= 0) __builtin_prefetch(&hnsw.offsets[static_cast<size_t>(runner_up)], 0, 3);
    // FAISS's neighbor_range on level 0, without the call (it is not inlined).
    const size_t begin = static_cast<size_t>(hnsw.offsets[static_cast<size_t>(closest)]);
    const size_t end = begin + level_zero_neighbours;
    size_t fresh_count = 0;
    for (size_t i = begin; i < end && hnsw.neighbors[i] >= 0; ++i) {
      if (visited->Visit(hnsw.neighbors[i])) fresh[fresh_count++] = hnsw.neighbors[i];
    }
    for (size_t i = 0; i < fresh_count; ++i) distance.Prefetch(fresh[i]);
    for (size_t i = 0; i < fresh_count; ++i) {
      const float d = distance(fresh[i]);
      offer(fresh[i], d);
      candidates.push(fresh[i], d);
    }
    if (runner_up >= 0) {
      // Every cache line the list touches (it need not start on one).
      const NodeId* list =
          &hnsw.neighbors[static_cast<size_t>(hnsw.offsets[static_cast<size_t>(runner_up)])];
      const uintptr_t last = reinterpret_cast<uintptr_t>(list + level_zero_neighbours - 1);
      for (uintptr_t line = reinterpret_cast<uintptr_t>(list) & ~(kCacheLineBytes - 1);
           line <= last; line += kCacheLineBytes) {
        __builtin_prefetch(reinterpret_cast<const void*>(line), 0, 3);
      }
    }
  }
  ReturnVisitedMarks(std::move(visited));

  faiss::maxheap_reorder(static_cast<size_t>(k), result_distances.data(), result_labels.data());
  hits.reserve(static_cast<size_t>(results));
  for (int i = 0; i < results; ++i) {
    // Scores are higher-is-better: the negated FAISS distance (for inner product, the product).
    hits.push_back({static_cast<int64_t>(result_labels[static_cast<size_t>(i)]),
                    -result_distances[static_cast<size_t>(i)]});
  }
  return hits;
}

}  // namespace quarry::internal
