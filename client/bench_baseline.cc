#include "client/bench_baseline.h"

#include <faiss/IVFlib.h>
#include <faiss/Index.h>
#include <faiss/IndexFlatCodes.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/index_io.h>
#include <faiss/invlists/OnDiskInvertedLists.h>
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "index/search/dense_index.h"
#include "index/search/hnsw_flat_search.h"
#include "index/search/huge_pages.h"
#include "index/shard/shard.h"
#include "index/shard/shard_format.h"

namespace quarry::bench {

ShardBaseline::~ShardBaseline() = default;

absl::StatusOr<std::unique_ptr<ShardBaseline>> ShardBaseline::Open(
    const std::string& shard_directory, int dimension, const BaselineOptions& options) {
  absl::StatusOr<std::unique_ptr<Shard>> shard =
      Shard::Open(shard_directory, dimension, Metric::kInnerProduct);
  if (!shard.ok()) return shard.status();
  std::unique_ptr<ShardBaseline> baseline(new ShardBaseline());
  baseline->document_ids_.reserve(static_cast<size_t>((*shard)->chunk_count()));
  for (int64_t label = 0; label < (*shard)->chunk_count(); ++label) {
    const absl::string_view id = (*shard)->document((*shard)->chunk(label).document_index).id;
    baseline->document_ids_.emplace_back(id.data(), id.size());
  }
  const std::string path = absl::StrCat(shard_directory, "/", shard_format::kDenseFile);
  try {
    // The flags the server's DenseIndex::ReadFromFile uses.
    baseline->index_.reset(
        faiss::read_index(path.c_str(), faiss::IO_FLAG_MMAP | faiss::IO_FLAG_READ_ONLY));
  } catch (const std::exception& error) {
    return absl::DataLossError(absl::StrCat(path, ": ", error.what()));
  }
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(baseline->index_.get())) {
    if (options.ef_search > 0) hnsw->hnsw.efSearch = options.ef_search;
    baseline->ef_search_ = hnsw->hnsw.efSearch;
  }
  if (options.quarry_hnsw_search) {
    baseline->quarry_hnsw_search_ = internal::HnswFlatSearch::For(*baseline->index_);
    if (baseline->quarry_hnsw_search_ == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " is not an HNSW-flat index with FAISS's default search settings: "
                       "Quarry's HNSW search does not apply"));
    }
  }
  if (options.huge_pages) baseline->huge_pages_ = CollapseIndexToHugePages(*baseline->index_);
  if (faiss::IndexIVF* ivf = faiss::ivflib::try_extract_index_ivf(baseline->index_.get())) {
    if (auto* lists = dynamic_cast<faiss::OnDiskInvertedLists*>(ivf->invlists)) {
      lists->prefetch_nthread = 0;  // as the server's DenseIndex::ReadFromFile does
    }
  }
  return baseline;
}

std::string ShardBaseline::Describe() const {
  std::string parameters;
  if (const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(index_.get())) {
    parameters =
        absl::StrCat("HNSW M=", hnsw->hnsw.nb_neighbors(1), " efSearch=", hnsw->hnsw.efSearch);
  } else if (const faiss::IndexIVF* ivf = faiss::ivflib::try_extract_index_ivf(index_.get())) {
    parameters = absl::StrCat("IVF nlist=", ivf->nlist, " nprobe=", ivf->nprobe);
  } else {
    parameters = "exact (flat)";
  }
  return absl::StrFormat("FAISS in process (%s build), %d x %d, %s%s%s", QUARRY_FAISS_BUILD,
                         index_->ntotal, index_->d, parameters,
                         quarry_hnsw_search_ != nullptr ? ", Quarry's HNSW search loop" : "",
                         huge_pages_ ? ", on huge pages" : "");
}

double ShardBaseline::ScanFloorMilliseconds() const {
  const auto* flat = dynamic_cast<const faiss::IndexFlatCodes*>(index_.get());
  if (flat == nullptr || flat->codes.empty()) return 0;
  const auto* words = reinterpret_cast<const uint64_t*>(flat->codes.data());
  const size_t count = flat->codes.size() / sizeof(uint64_t);
  // Thread CPU time, not wall time: on a shared machine the pass may be descheduled.
  auto thread_cpu_ms = [] {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
  };
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    const double start = thread_cpu_ms();
    // Four independent lanes keep enough loads in flight to reach the memory bandwidth (one
    // dependent chain does not).
    uint64_t lanes[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
      lanes[0] ^= words[i];
      lanes[1] ^= words[i + 1];
      lanes[2] ^= words[i + 2];
      lanes[3] ^= words[i + 3];
    }
    for (; i < count; ++i) lanes[0] ^= words[i];
    // Keeps the loop: the result is used.
    if ((lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3]) == 0x5eed) absl::PrintF("%c", ' ');
    const double milliseconds = thread_cpu_ms() - start;
    if (pass == 0 || milliseconds < best) best = milliseconds;
  }
  return best;
}

ShardBaseline::Result ShardBaseline::Run(const NpyMatrix<float>& queries, int k, int threads,
                                         absl::Duration duration) const {
  Result result;
  result.threads = threads;
  result.hits.resize(static_cast<size_t>(queries.rows));
  std::atomic<int64_t> next{0};
  std::vector<LatencySummary> latencies(static_cast<size_t>(threads));
  const absl::Time end = absl::Now() + duration;
  auto work = [&](int thread) {
    omp_set_num_threads(1);  // per thread in libgomp: one query never spawns a team
    std::vector<float> distances(static_cast<size_t>(k));
    std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(k));
    while (absl::Now() < end) {
      const int64_t sequence = next.fetch_add(1);
      const int64_t row = sequence % queries.rows;
      const absl::Time start = absl::Now();
      if (quarry_hnsw_search_ != nullptr) {
        const std::vector<ScoredLabel> found =
            quarry_hnsw_search_->Search(queries.row(row), k, ef_search_, nullptr);
        std::fill(labels.begin(), labels.end(), -1);
        for (size_t i = 0; i < found.size(); ++i) labels[i] = found[i].label;
      } else {
        index_->search(1, queries.row(row), k, distances.data(), labels.data());
      }
      latencies[static_cast<size_t>(thread)].Add(absl::ToDoubleMilliseconds(absl::Now() - start));
      if (sequence < queries.rows) {
        std::vector<std::string>& hits = result.hits[static_cast<size_t>(row)];
        for (const faiss::Index::idx_t label : labels) {
          if (label >= 0) hits.push_back(DocumentId(label));
        }
      }
    }
  };
  const absl::Time begin = absl::Now();
  std::vector<std::thread> workers;
  for (int thread = 0; thread < threads; ++thread) workers.emplace_back(work, thread);
  for (std::thread& worker : workers) worker.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - begin);
  for (const LatencySummary& summary : latencies) result.latency.Merge(summary);
  result.queries_per_second = static_cast<double>(result.latency.count()) / seconds;
  return result;
}

}  // namespace quarry::bench
