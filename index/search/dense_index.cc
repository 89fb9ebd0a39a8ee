#include "index/search/dense_index.h"

#include <faiss/IVFlib.h>
#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexIVFPQFastScan.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexPQFastScan.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/impl/HNSW.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <faiss/invlists/DirectMap.h>
#include <faiss/invlists/OnDiskInvertedLists.h>
#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "index/search/hnsw_flat_search.h"
#include "index/search/huge_pages.h"
#include "index/search/label_set.h"
#include "index/search/scored_label.h"
#include "index/search/vector_distance.h"
#include "index/store/filesystem.h"

namespace quarry {
namespace {

using FaissLabel = faiss::Index::idx_t;

constexpr int kMinDimension = 2;
constexpr int kMaxDimension = 8192;
// FAISS's own default; higher buys little recall for much slower inserts on the fresh index.
constexpr int kEfConstruction = 40;
constexpr int kDefaultEfSearch = 128;
// Widening the beam for a selective filter stops paying off beyond this; the exact-scan
// fallback covers what the beam still misses.
constexpr int kMaxFilteredEfSearch = 1024;
// HNSW stores neighbours as int, so it cannot address more vectors than this.
constexpr int64_t kMaxHnswVectors = std::numeric_limits<int>::max();
// k-means (IVF lists, PQ codebooks) wants at least this many training points per centroid:
// FAISS warns below it, and the centroids it finds are poor.
constexpr int64_t kMinTrainingPointsPerCentroid = 39;
// More than this many points per centroid barely changes the centroids (FAISS's own
// subsampling cap), so larger sets are sampled down before training.
constexpr int64_t kMaxTrainingPointsPerCentroid = 256;
// Training that needs no k-means (scalar quantizers) still wants a fair sample of the data.
constexpr int64_t kMinTrainingSample = 65536;
// Fixed, so that rebuilding a shard from the same vectors trains the same index.
constexpr uint64_t kTrainingSampleSeed = 0x5155415252590001;

// Sets OpenMP's thread count for the calling thread while FAISS runs and restores it after.
// Searches use one thread, so one query never spawns a team: request threads are not OpenMP
// threads, and a team per query would oversubscribe the cores that concurrent requests
// already use. Builds use the threads they were given. libgomp keeps the setting per thread,
// so the caller's own OpenMP use is unaffected. `threads` <= 0 keeps the current setting.
class ScopedOpenMpThreads {
 public:
  explicit ScopedOpenMpThreads(int threads) : previous_(omp_get_max_threads()) {
    if (threads > 0) omp_set_num_threads(threads);
  }
  ~ScopedOpenMpThreads() { omp_set_num_threads(previous_); }
  ScopedOpenMpThreads(const ScopedOpenMpThreads&) = delete;
  ScopedOpenMpThreads& operator=(const ScopedOpenMpThreads&) = delete;

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

absl::string_view MetricName(Metric metric) {
  return metric == Metric::kL2 ? "L2" : "inner product";
}

// The FAISS index a factory string describes, untrained and empty.
absl::StatusOr<std::unique_ptr<faiss::Index>> MakeFaissIndex(int dimension,
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
  return index;
}

// The number of centroids of the largest k-means that training `index` runs: IVF lists and
// PQ codebooks (2^bits entries per sub-quantizer). 0 when training needs no k-means.
int64_t TrainingCentroids(const faiss::Index& index) {
  const faiss::Index* inner = &index;
  if (const auto* transformed = dynamic_cast<const faiss::IndexPreTransform*>(inner)) {
    inner = transformed->index;
  }
  int64_t centroids = 0;
  if (const faiss::IndexIVF* ivf = faiss::ivflib::try_extract_index_ivf(&index)) {
    centroids = static_cast<int64_t>(ivf->nlist);
  }
  const faiss::ProductQuantizer* pq = nullptr;
  if (const auto* ivfpq = dynamic_cast<const faiss::IndexIVFPQ*>(inner)) pq = &ivfpq->pq;
  if (const auto* ivfpq = dynamic_cast<const faiss::IndexIVFPQFastScan*>(inner)) pq = &ivfpq->pq;
  if (const auto* flatpq = dynamic_cast<const faiss::IndexPQ*>(inner)) pq = &flatpq->pq;
  if (const auto* flatpq = dynamic_cast<const faiss::IndexPQFastScan*>(inner)) pq = &flatpq->pq;
  if (pq != nullptr) centroids = std::max(centroids, static_cast<int64_t>(pq->ksub));
  return centroids;
}

// Lists probed by default: enough for good recall on the list counts shards use (8 of 16,
// 32 of 1024, 64 of 4096), growing like sqrt(nlist).
size_t DefaultNprobe(size_t nlist) {
  const size_t by_size = static_cast<size_t>(std::ceil(std::sqrt(static_cast<double>(nlist))));
  return std::min(nlist, std::max<size_t>(8, by_size));
}

// `count` distinct rows of `vectors` drawn uniformly with a fixed seed (Floyd's algorithm,
// O(count)), copied in their original order.
std::vector<float> SampleRows(absl::Span<const float> vectors, size_t dimension, int64_t count) {
  const int64_t rows = static_cast<int64_t>(vectors.size() / dimension);
  std::mt19937_64 random(kTrainingSampleSeed);
  absl::flat_hash_set<int64_t> chosen;
  chosen.reserve(static_cast<size_t>(count));
  for (int64_t j = rows - count; j < rows; ++j) {
    const int64_t candidate = std::uniform_int_distribution<int64_t>(0, j)(random);
    if (!chosen.insert(candidate).second) chosen.insert(j);
  }
  std::vector<int64_t> order(chosen.begin(), chosen.end());
  std::sort(order.begin(), order.end());
  std::vector<float> sample;
  sample.reserve(static_cast<size_t>(count) * dimension);
  for (const int64_t row : order) {
    const auto begin = vectors.begin() + static_cast<std::ptrdiff_t>(row * dimension);
    sample.insert(sample.end(), begin, begin + static_cast<std::ptrdiff_t>(dimension));
  }
  return sample;
}

// Trains `index` on (a sample of) the n rows of `vectors`. False, without training, when
// there are too few rows to train it well.
bool TrainOnSample(faiss::Index& index, absl::Span<const float> vectors, size_t dimension) {
  const int64_t rows = static_cast<int64_t>(vectors.size() / dimension);
  const int64_t centroids = std::max<int64_t>(1, TrainingCentroids(index));
  if (rows < centroids * kMinTrainingPointsPerCentroid) return false;
  const int64_t limit = std::max(centroids * kMaxTrainingPointsPerCentroid, kMinTrainingSample);
  if (rows <= limit) {
    index.train(static_cast<FaissLabel>(rows), vectors.data());
  } else {
    const std::vector<float> sample = SampleRows(vectors, dimension, limit);
    index.train(static_cast<FaissLabel>(limit), sample.data());
  }
  return true;
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

// Copies `query` into `storage` so that the copy starts on a cache line, and returns it.
// FAISS's SIMD distance loops read the query once per scored vector with unaligned loads: from
// a query at an arbitrary 16-byte boundary (a protobuf or std::vector buffer) half of those
// loads straddle two cache lines. Measured: a flat scan of 200k x 384 took 26.5 ms from the
// request's buffer, 23.8 ms from an aligned copy (FAISS alone, from a 64-byte aligned query:
// 21 ms).
const float* CacheLineAlignedCopy(absl::Span<const float> query, std::vector<float>& storage) {
  constexpr size_t kCacheLineBytes = 64;
  storage.resize(query.size() + kCacheLineBytes / sizeof(float));
  void* start = storage.data();
  size_t space = storage.size() * sizeof(float);
  // Cannot fail: the slack above covers any misalignment of a float buffer.
  std::align(kCacheLineBytes, query.size() * sizeof(float), start, space);
  float* const aligned = static_cast<float*>(start);
  std::copy(query.begin(), query.end(), aligned);
  return aligned;
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
                       std::unique_ptr<faiss::Index> index, bool memory_mapped)
    : dimension_(dimension),
      metric_(metric),
      trained_(trained),
      index_(std::move(index)),
      memory_mapped_(memory_mapped),
      hnsw_flat_search_(internal::HnswFlatSearch::For(*index_)) {}

DenseIndex::~DenseIndex() = default;

absl::StatusOr<std::unique_ptr<DenseIndex>> DenseIndex::Create(int dimension,
                                                               std::string_view factory_spec,
                                                               Metric metric) {
  absl::StatusOr<std::unique_ptr<faiss::Index>> created =
      MakeFaissIndex(dimension, factory_spec, metric);
  if (!created.ok()) return created.status();
  std::unique_ptr<faiss::Index> index = *std::move(created);
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

absl::StatusOr<std::unique_ptr<DenseIndex>> DenseIndex::Build(int dimension,
                                                              std::string_view factory_spec,
                                                              Metric metric,
                                                              absl::Span<const float> vectors,
                                                              int threads) {
  absl::StatusOr<std::unique_ptr<faiss::Index>> created =
      MakeFaissIndex(dimension, factory_spec, metric);
  if (!created.ok()) return created.status();
  std::unique_ptr<faiss::Index> index = *std::move(created);
  const size_t d = static_cast<size_t>(dimension);
  if (vectors.size() % d != 0) {
    return absl::InvalidArgumentError(absl::StrCat("vector data has ", vectors.size(),
                                                   " floats, not a multiple of the dimension ",
                                                   dimension));
  }
  const int64_t n = static_cast<int64_t>(vectors.size() / d);
  if (!AllFinite(vectors)) {
    return absl::InvalidArgumentError("vectors contain NaN or infinite values");
  }
  if (dynamic_cast<const faiss::IndexHNSW*>(index.get()) != nullptr && n > kMaxHnswVectors) {
    return absl::ResourceExhaustedError(
        absl::StrCat("an HNSW index holds at most ", kMaxHnswVectors, " vectors"));
  }

  ScopedOpenMpThreads scoped_threads(threads);
  bool trained = true;
  try {
    if (!index->is_trained && !TrainOnSample(*index, vectors, d)) {
      index = std::make_unique<faiss::IndexFlat>(dimension, ToFaissMetric(metric));
      trained = false;
    }
    if (faiss::IndexIVF* ivf = faiss::ivflib::try_extract_index_ivf(index.get())) {
      // The exact scan (small filters) reconstructs vectors by label, which IVF can only do
      // through a direct map; it is stored in the file with the index.
      ivf->set_direct_map_type(faiss::DirectMap::Array);
      ivf->nprobe = DefaultNprobe(ivf->nlist);
    }
    if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index.get())) {
      hnsw->hnsw.efConstruction = kEfConstruction;
    }
    if (n > 0) index->add(static_cast<FaissLabel>(n), vectors.data());
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("building the dense index \"", std::string(factory_spec), "\": ", e.what()));
  }
  return std::unique_ptr<DenseIndex>(new DenseIndex(dimension, metric, trained, std::move(index)));
}

absl::StatusOr<std::unique_ptr<DenseIndex>> DenseIndex::ReadFromFile(const std::string& path,
                                                                     int dimension, Metric metric,
                                                                     bool trained) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return ErrnoStatus("stat", path, errno);
  std::unique_ptr<faiss::Index> index;
  try {
    // IO_FLAG_MMAP only changes how IVF array inverted lists are read (FAISS 1.7.3): they
    // become read-only OnDiskInvertedLists over an mmap of this file. Every other part of
    // every other index type is read into memory as usual, so the flag is safe to pass always.
    index.reset(faiss::read_index(path.c_str(), faiss::IO_FLAG_MMAP | faiss::IO_FLAG_READ_ONLY));
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("dense index ", absl::string_view(path),
                                            ": FAISS cannot read it: ", e.what()));
  }
  if (index == nullptr) {
    return absl::DataLossError(
        absl::StrCat("dense index ", absl::string_view(path), ": FAISS read no index"));
  }
  if (index->d != dimension) {
    return absl::DataLossError(absl::StrCat("dense index ", absl::string_view(path), ": dimension ",
                                            index->d, ", expected ", dimension));
  }
  if (index->metric_type != ToFaissMetric(metric)) {
    return absl::DataLossError(absl::StrCat("dense index ", absl::string_view(path),
                                            ": metric is not ", MetricName(metric)));
  }
  if (!index->is_trained || dynamic_cast<const faiss::IndexIDMap*>(index.get()) != nullptr) {
    return absl::DataLossError(absl::StrCat("dense index ", absl::string_view(path),
                                            ": not a trained index with positional labels"));
  }
  bool memory_mapped = false;
  if (faiss::IndexIVF* ivf = faiss::ivflib::try_extract_index_ivf(index.get())) {
    if (auto* lists = dynamic_cast<faiss::OnDiskInvertedLists*>(ivf->invlists)) {
      // Otherwise every IVF search starts up to 32 threads to prefetch the probed lists
      // (serialised on one mutex): the page cache does that job for a read-only mapping.
      lists->prefetch_nthread = 0;
      memory_mapped = true;
    }
  }
  return std::unique_ptr<DenseIndex>(
      new DenseIndex(dimension, metric, trained, std::move(index), memory_mapped));
}

absl::Status DenseIndex::WriteToFile(const std::string& path) const {
  if (memory_mapped_) {
    // FAISS would write the mapped lists as a reference to another file, not as data.
    return absl::FailedPreconditionError(
        "a memory-mapped dense index cannot be written; build a new one");
  }
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return ErrnoStatus("open", path, errno);
  try {
    faiss::write_index(index_.get(), file);
  } catch (const std::exception& e) {
    std::fclose(file);
    return absl::InternalError(
        absl::StrCat("writing dense index ", absl::string_view(path), ": ", e.what()));
  }
  if (std::fflush(file) != 0 || fsync(fileno(file)) != 0) {
    const int error = errno;
    std::fclose(file);
    return ErrnoStatus("write", path, error);
  }
  if (std::fclose(file) != 0) return ErrnoStatus("close", path, errno);
  return absl::OkStatus();
}

bool DenseIndex::CollapseToHugePages(const CollapseStop& stop) const {
  if (memory_mapped_) return false;  // file pages belong to the page cache
  return CollapseIndexToHugePages(*index_, stop);
}

int64_t DenseIndex::size() const { return static_cast<int64_t>(index_->ntotal); }

absl::Status DenseIndex::Add(absl::Span<const float> vectors) {
  if (memory_mapped_) {
    // FAISS would throw inside an OpenMP region, which terminates the process.
    return absl::FailedPreconditionError("a memory-mapped dense index is read-only");
  }
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
  faiss::SearchParametersIVF ivf_params;
  const faiss::SearchParameters* params = nullptr;
  if (const faiss::IndexIVF* ivf = faiss::ivflib::try_extract_index_ivf(index_.get())) {
    size_t nprobe = options.nprobe > 0 ? static_cast<size_t>(options.nprobe) : ivf->nprobe;
    if (allowed != nullptr && allowed->size() < total) {
      // Like the HNSW beam: about nprobe / fraction lists hold nprobe lists' worth of allowed
      // vectors.
      const double fraction = static_cast<double>(allowed->size()) / static_cast<double>(total);
      nprobe = static_cast<size_t>(std::min<double>(
          std::ceil(static_cast<double>(nprobe) / fraction), static_cast<double>(ivf->nlist)));
    }
    ivf_params.nprobe = std::clamp<size_t>(nprobe, 1, ivf->nlist);
    ivf_params.sel = sel;
    params = &ivf_params;  // an IndexPreTransform passes it on to the IVF it wraps
  } else if (dynamic_cast<const faiss::IndexHNSW*>(index_.get()) != nullptr) {
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

  std::vector<float> aligned_storage;
  const float* aligned_query = CacheLineAlignedCopy(query, aligned_storage);
  std::vector<ScoredLabel> hits;
  try {
    if (params == &hnsw_params && hnsw_flat_search_ != nullptr) {
      // The same search_k FAISS would get: with FAISS's kernels, the same hits (ties included)
      // would come back (hnsw_flat_search.h).
      hits = hnsw_flat_search_->Search(aligned_query, static_cast<int>(search_k),
                                       hnsw_params.efSearch, allowed);
    } else {
      std::vector<float> distances(static_cast<size_t>(search_k));
      std::vector<FaissLabel> labels(static_cast<size_t>(search_k));
      {
        ScopedOpenMpThreads single_threaded(1);
        index_->search(1, aligned_query, static_cast<FaissLabel>(search_k), distances.data(),
                       labels.data(), params);
      }
      hits.reserve(static_cast<size_t>(search_k));
      for (int64_t i = 0; i < search_k; ++i) {
        // -1 marks an unfilled slot; a selector may also leave slots unfilled. Some index types
        // ignore the selector (IVF scalar quantizers in FAISS 1.7.3): drop what it let through.
        if (labels[i] < 0) continue;
        if (allowed != nullptr && !allowed->Contains(labels[i])) continue;
        const float score = metric_ == Metric::kL2 ? -distances[i] : distances[i];
        hits.push_back({static_cast<int64_t>(labels[i]), score});
      }
    }
  } catch (const std::exception& e) {
    if (allowed != nullptr) {
      // Some index types take no ID selector; the exact scan answers the same question.
      return ExactSearch(query, k, allowed);
    }
    return absl::InternalError(absl::StrCat("dense search failed: ", e.what()));
  }
  if (static_cast<int64_t>(hits.size()) < wanted) {
    // The beam met too few allowed (or reachable) nodes; only a full scan guarantees k hits.
    return ExactSearch(query, k, allowed);
  }
  // An HNSW search returns its whole beam (search_k): only the first `wanted` need ordering.
  std::partial_sort(hits.begin(), hits.begin() + wanted, hits.end(), Better);
  hits.resize(static_cast<size_t>(wanted));
  return hits;
}

absl::StatusOr<std::vector<float>> DenseIndex::Reconstruct(int64_t first, int64_t count) const {
  if (first < 0 || count < 0 || first + count > size()) {
    return absl::InvalidArgumentError(absl::StrCat("labels ", first, "..", first + count,
                                                   " are outside the index (size ", size(), ")"));
  }
  const size_t dimension = static_cast<size_t>(dimension_);
  std::vector<float> vectors(static_cast<size_t>(count) * dimension);
  if (const float* raw = RawVectors(*index_)) {
    std::copy(raw + static_cast<size_t>(first) * dimension,
              raw + static_cast<size_t>(first + count) * dimension, vectors.begin());
    return vectors;
  }
  try {
    for (int64_t i = 0; i < count; ++i) {
      index_->reconstruct(static_cast<FaissLabel>(first + i),
                          vectors.data() + static_cast<size_t>(i) * dimension);
    }
  } catch (const std::exception& error) {
    return absl::InternalError(absl::StrCat("FAISS cannot reconstruct vectors: ", error.what()));
  }
  return vectors;
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
  const VectorKernels kernels = FastestVectorKernels();

  auto score_label = [&](int64_t label) {
    const float* vector = nullptr;
    if (raw != nullptr) {
      vector = raw + static_cast<size_t>(label) * dimension;
    } else {
      index_->reconstruct(static_cast<FaissLabel>(label), reconstructed.data());
      vector = reconstructed.data();
    }
    const float score = l2 ? -kernels.squared_l2(query.data(), vector, dimension)
                           : kernels.inner_product(query.data(), vector, dimension);
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
