#include "index/search/dense_index.h"

#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/HNSW.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_factory.h>
#include <faiss/utils/distances.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "index/search/label_set.h"
#include "index/search/scored_label.h"

namespace quarry {
namespace {

using FaissLabel = faiss::Index::idx_t;

constexpr int kMinDimension = 2;
constexpr int kMaxDimension = 8192;
// FAISS's own default; higher buys little recall for much slower inserts on the fresh index.
constexpr int kEfConstruction = 40;
constexpr int kDefaultEfSearch = 64;
// Widening the beam for a selective filter stops paying off beyond this; the exact-scan
// fallback covers what the beam still misses.
constexpr int kMaxFilteredEfSearch = 1024;
// HNSW stores neighbours as int, so it cannot address more vectors than this.
constexpr int64_t kMaxHnswVectors = std::numeric_limits<int>::max();

// Limits OpenMP to the calling thread while FAISS runs, so one query never spawns a team:
// request threads are not OpenMP threads, and a team per query would oversubscribe the
// cores that concurrent requests already use. libgomp keeps the setting per thread; the
// previous value is restored so the caller's own OpenMP use is unaffected.
class SingleThreadedOpenMp {
 public:
  SingleThreadedOpenMp() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleThreadedOpenMp() { omp_set_num_threads(previous_); }
  SingleThreadedOpenMp(const SingleThreadedOpenMp&) = delete;
  SingleThreadedOpenMp& operator=(const SingleThreadedOpenMp&) = delete;

 private:
  int previous_;
};

// Lets FAISS skip disallowed labels during the search itself (the HNSW graph is still
// traversed through them, but they never enter the result heap).
class LabelSetSelector final : public faiss::IDSelector {
 public:
  explicit LabelSetSelector(const LabelSet& labels) : labels_(labels) {}
  bool is_member(idx_t id) const override { return labels_.Contains(id); }

 private:
  const LabelSet& labels_;
};

faiss::MetricType ToFaissMetric(Metric metric) {
  return metric == Metric::kL2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
}

// The stored vectors when the index keeps them uncompressed (Flat, HNSW over Flat), so the
// exact scan reads them in place instead of reconstructing one at a time.
const float* RawVectors(const faiss::Index& index) {
  if (const auto* flat = dynamic_cast<const faiss::IndexFlat*>(&index)) return flat->get_xb();
  if (const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(&index)) {
    if (const auto* flat = dynamic_cast<const faiss::IndexFlat*>(hnsw->storage)) {
      return flat->get_xb();
    }
  }
  return nullptr;
}

bool AllFinite(absl::Span<const float> values) {
  return std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); });
}

// Higher score first; equal scores by label so results do not depend on scan order.
bool Better(const ScoredLabel& a, const ScoredLabel& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.label < b.label;
}

// Keeps the k best of a stream of scored labels.
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) { heap_.reserve(k); }

  void Push(int64_t label, float score) {
    const ScoredLabel candidate{label, score};
    if (k_ == 0) return;
    if (heap_.size() < k_) {
      heap_.push_back(candidate);
      // With Better as the ordering the heap's front is the worst kept hit.
      std::push_heap(heap_.begin(), heap_.end(), Better);
    } else if (Better(candidate, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), Better);
      heap_.back() = candidate;
      std::push_heap(heap_.begin(), heap_.end(), Better);
    }
  }

  std::vector<ScoredLabel> TakeSorted() && {
    std::sort(heap_.begin(), heap_.end(), Better);
    return std::move(heap_);
  }

 private:
  size_t k_;
  std::vector<ScoredLabel> heap_;
};

}  // namespace

DenseIndex::DenseIndex(int dimension, Metric metric, bool trained,
                       std::unique_ptr<faiss::Index> index)
    : dimension_(dimension), metric_(metric), trained_(trained), index_(std::move(index)) {}

DenseIndex::~DenseIndex() = default;

absl::StatusOr<std::unique_ptr<DenseIndex>> DenseIndex::Create(int dimension,
                                                               std::string_view factory_spec,
                                                               Metric metric) {
  if (dimension < kMinDimension || dimension > kMaxDimension) {
    return absl::InvalidArgumentError(absl::StrCat("vector dimension must be in ", kMinDimension,
                                                   "..", kMaxDimension, ", got ", dimension));
  }
  const std::string spec(factory_spec);
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(faiss::index_factory(dimension, spec.c_str(), ToFaissMetric(metric)));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("index spec \"", spec, "\" rejected by FAISS: ", e.what()));
  }
  if (index == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("index spec \"", spec, "\" built no index"));
  }
  if (dynamic_cast<const faiss::IndexIDMap*>(index.get()) != nullptr) {
    // Labels are positions; an ID map would make add() without ids throw.
    return absl::InvalidArgumentError(
        absl::StrCat("index spec \"", spec, "\": IDMap is not supported (labels are positions)"));
  }
  const bool trained = index->is_trained;
  try {
    if (!trained) {
      // An untrained IVF/PQ index cannot take vectors; an exact index serves them until the
      // indexer publishes a trained shard.
      index = std::make_unique<faiss::IndexFlat>(dimension, ToFaissMetric(metric));
    }
    if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index.get())) {
      // efSearch is not set here: every search passes its own.
      hnsw->hnsw.efConstruction = kEfConstruction;
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("creating the dense index: ", e.what()));
  }
  return std::unique_ptr<DenseIndex>(new DenseIndex(dimension, metric, trained, std::move(index)));
}

int64_t DenseIndex::size() const { return static_cast<int64_t>(index_->ntotal); }

absl::Status DenseIndex::Add(absl::Span<const float> vectors) {
  const size_t dimension = static_cast<size_t>(dimension_);
  if (vectors.size() % dimension != 0) {
    return absl::InvalidArgumentError(absl::StrCat("vector data has ", vectors.size(),
                                                   " floats, not a multiple of the dimension ",
                                                   dimension_));
  }
  const int64_t n = static_cast<int64_t>(vectors.size() / dimension);
  if (n == 0) return absl::OkStatus();
  if (!AllFinite(vectors)) {
    return absl::InvalidArgumentError("vectors contain NaN or infinite values");
  }
  if (dynamic_cast<const faiss::IndexHNSW*>(index_.get()) != nullptr &&
      size() + n > kMaxHnswVectors) {
    return absl::ResourceExhaustedError(
        absl::StrCat("an HNSW index holds at most ", kMaxHnswVectors, " vectors"));
  }
  try {
    // Deliberately not single-threaded: bulk inserts into HNSW use every core.
    index_->add(static_cast<FaissLabel>(n), vectors.data());
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("adding vectors to the dense index: ", e.what()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ScoredLabel>> DenseIndex::Search(
    absl::Span<const float> query, int k, const LabelSet* allowed,
    const DenseSearchOptions& options) const {
  if (k <= 0) return absl::InvalidArgumentError(absl::StrCat("k must be positive, got ", k));
  if (query.size() != static_cast<size_t>(dimension_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("query vector has ", query.size(), " dimensions, the index has ", dimension_));
  }
  if (!AllFinite(query)) {
    return absl::InvalidArgumentError("query vector contains NaN or infinite values");
  }
  const int64_t total = size();
  if (total == 0 || (allowed != nullptr && allowed->size() == 0)) {
    return std::vector<ScoredLabel>();
  }
  if (allowed != nullptr && allowed->size() <= options.exact_scan_threshold) {
    return ExactSearch(query, k, allowed);
  }

  const int64_t reachable = allowed == nullptr ? total : std::min(allowed->size(), total);
  const int64_t wanted = std::min<int64_t>(k, reachable);
  std::optional<LabelSetSelector> selector;
  if (allowed != nullptr) selector.emplace(*allowed);
  LabelSetSelector* const sel = selector ? &*selector : nullptr;

  int64_t search_k = wanted;
  faiss::SearchParameters flat_params;
  faiss::SearchParametersHNSW hnsw_params;
  const faiss::SearchParameters* params = nullptr;
  if (dynamic_cast<const faiss::IndexHNSW*>(index_.get()) != nullptr) {
    int64_t ef =
        std::max<int64_t>(options.ef_search > 0 ? options.ef_search : kDefaultEfSearch, wanted);
    if (allowed != nullptr && allowed->size() < total) {
      // Roughly ef / fraction nodes must be visited to meet ef allowed ones.
      const double fraction = static_cast<double>(allowed->size()) / static_cast<double>(total);
      const double widened = std::ceil(static_cast<double>(ef) / fraction);
      ef = std::max<int64_t>(ef,
                             static_cast<int64_t>(std::min<double>(widened, kMaxFilteredEfSearch)));
    }
    ef = std::min(ef, total);
    hnsw_params.efSearch = static_cast<int>(ef);
    hnsw_params.sel = sel;
    params = &hnsw_params;
    // FAISS 1.7.3 sizes the HNSW candidate queue by max(index efSearch, k), not by the
    // parameter's efSearch, so the beam only widens if k does: ask for ef results.
    search_k = std::max(wanted, ef);
  } else if (sel != nullptr) {
    flat_params.sel = sel;
    params = &flat_params;
  }

  std::vector<float> distances(static_cast<size_t>(search_k));
  std::vector<FaissLabel> labels(static_cast<size_t>(search_k));
  {
    SingleThreadedOpenMp single_threaded;
    try {
      index_->search(1, query.data(), static_cast<FaissLabel>(search_k), distances.data(),
                     labels.data(), params);
    } catch (const std::exception& e) {
      if (allowed != nullptr) {
        // Some index types take no ID selector; the exact scan answers the same question.
        return ExactSearch(query, k, allowed);
      }
      return absl::InternalError(absl::StrCat("dense search failed: ", e.what()));
    }
  }

  std::vector<ScoredLabel> hits;
  hits.reserve(static_cast<size_t>(search_k));
  for (int64_t i = 0; i < search_k; ++i) {
    // -1 marks an unfilled slot; a selector may also leave slots unfilled.
    if (labels[i] < 0) continue;
    const float score = metric_ == Metric::kL2 ? -distances[i] : distances[i];
    hits.push_back({static_cast<int64_t>(labels[i]), score});
  }
  if (static_cast<int64_t>(hits.size()) < wanted) {
    // The beam met too few allowed (or reachable) nodes; only a full scan guarantees k hits.
    return ExactSearch(query, k, allowed);
  }
  std::sort(hits.begin(), hits.end(), Better);
  hits.resize(static_cast<size_t>(wanted));
  return hits;
}

absl::StatusOr<std::vector<ScoredLabel>> DenseIndex::ExactSearch(absl::Span<const float> query,
                                                                 int k,
                                                                 const LabelSet* allowed) const {
  const int64_t total = size();
  const size_t dimension = static_cast<size_t>(dimension_);
  const int64_t reachable = allowed == nullptr ? total : std::min(allowed->size(), total);
  TopK top(static_cast<size_t>(std::min<int64_t>(k, reachable)));
  const float* raw = RawVectors(*index_);
  std::vector<float> reconstructed(raw == nullptr ? dimension : 0);
  const bool l2 = metric_ == Metric::kL2;

  auto score_label = [&](int64_t label) {
    const float* vector = nullptr;
    if (raw != nullptr) {
      vector = raw + static_cast<size_t>(label) * dimension;
    } else {
      index_->reconstruct(static_cast<FaissLabel>(label), reconstructed.data());
      vector = reconstructed.data();
    }
    const float score = l2 ? -faiss::fvec_L2sqr(query.data(), vector, dimension)
                           : faiss::fvec_inner_product(query.data(), vector, dimension);
    top.Push(label, score);
  };

  try {
    if (allowed == nullptr) {
      for (int64_t label = 0; label < total; ++label) score_label(label);
    } else {
      // Labels come in increasing order, so the first one past the index ends the scan.
      for (const int64_t label : allowed->ToVector()) {
        if (label >= total) break;
        score_label(label);
      }
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("exact dense scan failed: ", e.what()));
  }
  return std::move(top).TakeSorted();
}

}  // namespace quarry
