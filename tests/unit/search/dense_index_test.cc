#include "index/search/dense_index.h"

#include <omp.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <numbers>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "index/search/huge_pages.h"
#include "index/search/label_set.h"
#include "index/search/scored_label.h"

namespace quarry {
namespace {

// n x d rows, each of unit length.
std::vector<float> RandomUnitVectors(int64_t n, int d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> data(static_cast<size_t>(n) * d);
  for (int64_t i = 0; i < n; ++i) {
    float* row = data.data() + i * d;
    double norm = 0;
    for (int j = 0; j < d; ++j) {
      row[j] = normal(rng);
      norm += double{row[j]} * row[j];
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (int j = 0; j < d; ++j) row[j] *= inv;
  }
  return data;
}

// Independent reference: scores every allowed row in double precision.
std::vector<ScoredLabel> BruteForce(const std::vector<float>& data, int d,
                                    absl::Span<const float> query, int k, Metric metric,
                                    const LabelSet* allowed = nullptr) {
  std::vector<ScoredLabel> all;
  const int64_t n = static_cast<int64_t>(data.size()) / d;
  for (int64_t i = 0; i < n; ++i) {
    if (allowed != nullptr && !allowed->Contains(i)) continue;
    double s = 0;
    for (int j = 0; j < d; ++j) {
      const double x = data[i * d + j];
      const double q = query[j];
      s += metric == Metric::kL2 ? (x - q) * (x - q) : x * q;
    }
    all.push_back({i, static_cast<float>(metric == Metric::kL2 ? -s : s)});
  }
  std::sort(all.begin(), all.end(), [](const ScoredLabel& a, const ScoredLabel& b) {
    return a.score != b.score ? a.score > b.score : a.label < b.label;
  });
  if (static_cast<int64_t>(all.size()) > k) all.resize(k);
  return all;
}

float ScoreOf(const std::vector<float>& data, int d, absl::Span<const float> query, int64_t label,
              Metric metric) {
  double s = 0;
  for (int j = 0; j < d; ++j) {
    const double x = data[label * d + j];
    s += metric == Metric::kL2 ? (x - query[j]) * (x - query[j]) : x * query[j];
  }
  return static_cast<float>(metric == Metric::kL2 ? -s : s);
}

// The exact answer up to float rounding: same scores rank by rank, and every returned label
// really has the score reported for it (so a near-tie may swap labels, a wrong label may not).
void RequireSameAsBruteForce(const std::vector<ScoredLabel>& got,
                             const std::vector<ScoredLabel>& want, const std::vector<float>& data,
                             int d, absl::Span<const float> query, Metric metric) {
  REQUIRE(got.size() == want.size());
  std::set<int64_t> distinct;
  for (size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].score == Approx(want[i].score).margin(1e-4));
    CHECK(got[i].score == Approx(ScoreOf(data, d, query, got[i].label, metric)).margin(1e-4));
    if (i > 0) CHECK(got[i - 1].score >= got[i].score);
    distinct.insert(got[i].label);
  }
  CHECK(distinct.size() == got.size());
}

double Recall(const std::vector<ScoredLabel>& got, const std::vector<ScoredLabel>& want) {
  std::set<int64_t> truth;
  for (const ScoredLabel& hit : want) truth.insert(hit.label);
  int found = 0;
  for (const ScoredLabel& hit : got) found += static_cast<int>(truth.count(hit.label));
  return want.empty() ? 1.0 : static_cast<double>(found) / want.size();
}

std::unique_ptr<DenseIndex> MakeIndex(int d, const char* spec, Metric metric,
                                      const std::vector<float>& data) {
  absl::StatusOr<std::unique_ptr<DenseIndex>> index = DenseIndex::Create(d, spec, metric);
  REQUIRE(index.ok());
  REQUIRE((*index)->Add(data).ok());
  return std::move(*index);
}

absl::Span<const float> Row(const std::vector<float>& data, int d, int64_t i) {
  return absl::MakeConstSpan(data).subspan(static_cast<size_t>(i) * d, d);
}

TEST_CASE("Create rejects what FAISS rejects, without throwing", "[dense]") {
  absl::StatusOr<std::unique_ptr<DenseIndex>> index;
  REQUIRE_NOTHROW(index = DenseIndex::Create(32, "NotAThing", Metric::kInnerProduct));
  CHECK(index.status().code() == absl::StatusCode::kInvalidArgument);
  REQUIRE_NOTHROW(index = DenseIndex::Create(32, "HNSW32,Bogus", Metric::kL2));
  CHECK(index.status().code() == absl::StatusCode::kInvalidArgument);
  REQUIRE_NOTHROW(index = DenseIndex::Create(32, "IDMap,Flat", Metric::kL2));
  CHECK(index.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(DenseIndex::Create(1, "Flat", Metric::kL2).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(DenseIndex::Create(8193, "Flat", Metric::kL2).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(DenseIndex::Create(8192, "Flat", Metric::kL2).ok());
}

TEST_CASE("Flat inner-product search equals brute force", "[dense]") {
  const int d = 32;
  const std::vector<float> data = RandomUnitVectors(2000, d, 1);
  const auto index = MakeIndex(d, "Flat", Metric::kInnerProduct, data);
  CHECK(index->size() == 2000);
  CHECK(index->trained());
  const std::vector<float> queries = RandomUnitVectors(20, d, 2);
  for (int q = 0; q < 20; ++q) {
    const auto query = Row(queries, d, q);
    absl::StatusOr<std::vector<ScoredLabel>> hits = index->Search(query, 10, nullptr);
    REQUIRE(hits.ok());
    RequireSameAsBruteForce(*hits, BruteForce(data, d, query, 10, Metric::kInnerProduct), data, d,
                            query, Metric::kInnerProduct);
  }
}

TEST_CASE("L2 scores are negated squared distances, nearest first", "[dense]") {
  const int d = 16;
  std::vector<float> data = RandomUnitVectors(500, d, 3);
  // Scale the rows so that L2 and inner-product orders differ.
  for (size_t i = 0; i < data.size(); ++i) data[i] *= 1.0f + static_cast<float>(i % 7);
  for (const char* spec : {"Flat", "HNSW32"}) {
    INFO(spec);
    const auto index = MakeIndex(d, spec, Metric::kL2, data);
    const auto query = Row(data, d, 123);
    absl::StatusOr<std::vector<ScoredLabel>> hits = index->Search(query, 5, nullptr);
    REQUIRE(hits.ok());
    REQUIRE(hits->size() == 5);
    CHECK((*hits)[0].label == 123);
    CHECK((*hits)[0].score == Approx(0.0f).margin(1e-5));
    CHECK((*hits)[1].score < 0);
    RequireSameAsBruteForce(*hits, BruteForce(data, d, query, 5, Metric::kL2), data, d, query,
                            Metric::kL2);
  }
}

TEST_CASE("Labels are positions across several Adds", "[dense]") {
  const int d = 8;
  const std::vector<float> first = RandomUnitVectors(100, d, 4);
  const std::vector<float> second = RandomUnitVectors(50, d, 5);
  auto index = MakeIndex(d, "HNSW32", Metric::kInnerProduct, first);
  REQUIRE(index->Add(second).ok());
  REQUIRE(index->size() == 150);
  absl::StatusOr<std::vector<ScoredLabel>> hits = index->Search(Row(second, d, 7), 1, nullptr);
  REQUIRE(hits.ok());
  REQUIRE(hits->size() == 1);
  CHECK((*hits)[0].label == 107);
}

TEST_CASE("Bad arguments are INVALID_ARGUMENT and change nothing", "[dense]") {
  const int d = 8;
  const std::vector<float> data = RandomUnitVectors(20, d, 6);
  auto index = MakeIndex(d, "Flat", Metric::kInnerProduct, data);
  const std::vector<float> short_query(d - 1, 0.1f);
  CHECK(index->Search(short_query, 5, nullptr).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(index->Search(Row(data, d, 0), 0, nullptr).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(index->Search(Row(data, d, 0), -3, nullptr).status().code() ==
        absl::StatusCode::kInvalidArgument);
  std::vector<float> nan_query(Row(data, d, 0).begin(), Row(data, d, 0).end());
  nan_query[3] = std::numeric_limits<float>::quiet_NaN();
  CHECK(index->Search(nan_query, 5, nullptr).status().code() == absl::StatusCode::kInvalidArgument);

  CHECK(index->Add(std::vector<float>(d + 1, 0.5f)).code() == absl::StatusCode::kInvalidArgument);
  std::vector<float> infinite(d, 0.5f);
  infinite[0] = std::numeric_limits<float>::infinity();
  CHECK(index->Add(infinite).code() == absl::StatusCode::kInvalidArgument);
  CHECK(index->size() == 20);
}

TEST_CASE("Empty index and empty allowed set return no hits", "[dense]") {
  const int d = 8;
  absl::StatusOr<std::unique_ptr<DenseIndex>> empty =
      DenseIndex::Create(d, "HNSW32", Metric::kInnerProduct);
  REQUIRE(empty.ok());
  const std::vector<float> query(d, 0.25f);
  absl::StatusOr<std::vector<ScoredLabel>> hits = (*empty)->Search(query, 5, nullptr);
  REQUIRE(hits.ok());
  CHECK(hits->empty());

  const auto index = MakeIndex(d, "HNSW32", Metric::kInnerProduct, RandomUnitVectors(50, d, 7));
  const LabelSet none;
  hits = index->Search(query, 5, &none);
  REQUIRE(hits.ok());
  CHECK(hits->empty());
}

TEST_CASE("k larger than the index returns every vector", "[dense]") {
  const int d = 8;
  const std::vector<float> data = RandomUnitVectors(30, d, 8);
  for (const char* spec : {"Flat", "HNSW32"}) {
    INFO(spec);
    const auto index = MakeIndex(d, spec, Metric::kInnerProduct, data);
    absl::StatusOr<std::vector<ScoredLabel>> hits = index->Search(Row(data, d, 0), 100, nullptr);
    REQUIRE(hits.ok());
    RequireSameAsBruteForce(*hits, BruteForce(data, d, Row(data, d, 0), 100, Metric::kInnerProduct),
                            data, d, Row(data, d, 0), Metric::kInnerProduct);
  }
}

TEST_CASE("An IVF spec is served exactly until trained", "[dense]") {
  const int d = 16;
  const std::vector<float> data = RandomUnitVectors(600, d, 9);
  const auto index = MakeIndex(d, "IVF16,Flat", Metric::kInnerProduct, data);
  CHECK_FALSE(index->trained());
  CHECK(index->size() == 600);
  const std::vector<float> queries = RandomUnitVectors(5, d, 10);
  for (int q = 0; q < 5; ++q) {
    const auto query = Row(queries, d, q);
    absl::StatusOr<std::vector<ScoredLabel>> hits = index->Search(query, 10, nullptr);
    REQUIRE(hits.ok());
    RequireSameAsBruteForce(*hits, BruteForce(data, d, query, 10, Metric::kInnerProduct), data, d,
                            query, Metric::kInnerProduct);
  }
}

TEST_CASE("HNSW32 recall@10 is at least 0.9", "[dense]") {
  const int d = 64;
  const std::vector<float> data = RandomUnitVectors(3000, d, 11);
  const auto index = MakeIndex(d, "HNSW32", Metric::kInnerProduct, data);
  REQUIRE(index->trained());
  const int num_queries = 50;
  const std::vector<float> queries = RandomUnitVectors(num_queries, d, 12);
  double recall = 0;
  for (int q = 0; q < num_queries; ++q) {
    const auto query = Row(queries, d, q);
    absl::StatusOr<std::vector<ScoredLabel>> hits = index->Search(query, 10, nullptr);
    REQUIRE(hits.ok());
    REQUIRE(hits->size() == 10);
    recall += Recall(*hits, BruteForce(data, d, query, 10, Metric::kInnerProduct));
  }
  recall /= num_queries;
  INFO("recall@10 = " << recall);
  CHECK(recall >= 0.9);
}

TEST_CASE("A wider HNSW beam finds at least as many true neighbours", "[dense]") {
  const int d = 64;
  const std::vector<float> data = RandomUnitVectors(3000, d, 21);
  const auto index = MakeIndex(d, "HNSW32", Metric::kInnerProduct, data);
  const int num_queries = 50;
  const std::vector<float> queries = RandomUnitVectors(num_queries, d, 22);
  // Random 64-d data is hard for HNSW: a beam of 10 misses neighbours that 256 finds.
  std::vector<double> recalls;
  for (int ef : {10, 40, 256}) {
    DenseSearchOptions options;
    options.ef_search = ef;
    double recall = 0;
    for (int q = 0; q < num_queries; ++q) {
      const auto query = Row(queries, d, q);
      absl::StatusOr<std::vector<ScoredLabel>> hits = index->Search(query, 10, nullptr, options);
      REQUIRE(hits.ok());
      REQUIRE(hits->size() == 10);
      recall += Recall(*hits, BruteForce(data, d, query, 10, Metric::kInnerProduct));
    }
    recalls.push_back(recall / num_queries);
  }
  INFO("recall@10 at ef 10, 40, 256: " << recalls[0] << ", " << recalls[1] << ", " << recalls[2]);
  CHECK(recalls[0] < recalls[2]);
  CHECK(recalls[0] <= recalls[1]);
  CHECK(recalls[1] <= recalls[2]);
}

TEST_CASE("Filtered HNSW search fills k with allowed labels", "[dense]") {
  const int d = 64;
  const int64_t n = 3000;
  const std::vector<float> data = RandomUnitVectors(n, d, 13);
  const auto index = MakeIndex(d, "HNSW32", Metric::kInnerProduct, data);
  const std::vector<float> queries = RandomUnitVectors(10, d, 14);

  struct Case {
    const char* name;
    int64_t stride;  // every stride-th label is allowed
    int64_t exact_scan_threshold;
    int k;
    bool exact;  // whether the answer must equal brute force over the allowed set
  };
  const Case cases[] = {
      {"50% through the selector", 2, 0, 10, false},
      {"5% through the selector", 20, 0, 10, false},
      {"5% scanned exactly", 20, 4096, 10, true},
      {"0.1% through the selector", 1000, 0, 10, true},  // 3 labels: every one must come back
      {"0.1% scanned exactly", 1000, 4096, 10, true},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      LabelSet allowed;
      for (int64_t label = 0; label < n; label += c.stride) allowed.Insert(label);
      DenseSearchOptions options;
      options.exact_scan_threshold = c.exact_scan_threshold;
      const int k = c.k;
      double recall = 0;
      for (int q = 0; q < 10; ++q) {
        const auto query = Row(queries, d, q);
        absl::StatusOr<std::vector<ScoredLabel>> hits = index->Search(query, k, &allowed, options);
        REQUIRE(hits.ok());
        REQUIRE(static_cast<int64_t>(hits->size()) == std::min<int64_t>(k, allowed.size()));
        for (const ScoredLabel& hit : *hits) CHECK(allowed.Contains(hit.label));
        const std::vector<ScoredLabel> truth =
            BruteForce(data, d, query, k, Metric::kInnerProduct, &allowed);
        if (c.exact) {
          RequireSameAsBruteForce(*hits, truth, data, d, query, Metric::kInnerProduct);
        } else {
          for (const ScoredLabel& hit : *hits) {
            CHECK(hit.score ==
                  Approx(ScoreOf(data, d, query, hit.label, Metric::kInnerProduct)).margin(1e-4));
          }
        }
        recall += Recall(*hits, truth);
      }
      INFO("filtered recall = " << recall / 10);
      CHECK(recall / 10 >= 0.9);
    }
  }
}

TEST_CASE("A beam that misses the allowed labels falls back to the exact scan", "[dense]") {
  // Points on a circle: HNSW's level-0 links are local, so a beam of at most 1024 nodes
  // around the query never reaches the far side, where the only allowed labels are.
  const int d = 2;
  const int64_t n = 20000;
  const double step = 2 * std::numbers::pi / n;
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(17));
  std::vector<float> data(n * d);
  for (int64_t label = 0; label < n; ++label) {
    data[label * d] = static_cast<float>(std::cos(order[label] * step));
    data[label * d + 1] = static_cast<float>(std::sin(order[label] * step));
  }
  const auto index = MakeIndex(d, "HNSW32", Metric::kL2, data);
  LabelSet allowed;
  for (int64_t label = 0; label < n; ++label) {
    if (order[label] == n / 2 + 1 || order[label] == n / 2 + 7) allowed.Insert(label);
  }
  REQUIRE(allowed.size() == 2);
  DenseSearchOptions options;
  options.exact_scan_threshold = 0;
  const std::vector<float> query = {static_cast<float>(std::cos(0.3)),
                                    static_cast<float>(std::sin(0.3))};
  absl::StatusOr<std::vector<ScoredLabel>> hits = index->Search(query, 10, &allowed, options);
  REQUIRE(hits.ok());
  RequireSameAsBruteForce(*hits, BruteForce(data, d, query, 10, Metric::kL2, &allowed), data, d,
                          query, Metric::kL2);
}

TEST_CASE("Allowed labels beyond the index are ignored", "[dense]") {
  const int d = 8;
  const std::vector<float> data = RandomUnitVectors(40, d, 15);
  for (const char* spec : {"Flat", "HNSW32"}) {
    INFO(spec);
    const auto index = MakeIndex(d, spec, Metric::kInnerProduct, data);
    LabelSet allowed;
    for (int64_t label : {3, 17, 39, 40, 41, 5000}) allowed.Insert(label);
    for (int64_t threshold : {0, 4096}) {
      DenseSearchOptions options;
      options.exact_scan_threshold = threshold;
      absl::StatusOr<std::vector<ScoredLabel>> hits =
          index->Search(Row(data, d, 0), 10, &allowed, options);
      REQUIRE(hits.ok());
      std::set<int64_t> labels;
      for (const ScoredLabel& hit : *hits) labels.insert(hit.label);
      CHECK(labels == std::set<int64_t>{3, 17, 39});
    }
  }
}

TEST_CASE("Search leaves the caller's OpenMP thread count as it was", "[dense]") {
  const int d = 8;
  const std::vector<float> data = RandomUnitVectors(100, d, 16);
  const auto index = MakeIndex(d, "HNSW32", Metric::kInnerProduct, data);
  const int before = omp_get_max_threads();
  omp_set_num_threads(3);
  REQUIRE(index->Search(Row(data, d, 1), 5, nullptr).ok());
  CHECK(omp_get_max_threads() == 3);
  omp_set_num_threads(before);
}

// --- Build, WriteToFile, ReadFromFile --------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/quarry-dense-test-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string File(const char* name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::unique_ptr<DenseIndex> BuildIndex(int d, const char* spec, Metric metric,
                                       const std::vector<float>& data, int threads = 2) {
  absl::StatusOr<std::unique_ptr<DenseIndex>> index =
      DenseIndex::Build(d, spec, metric, data, threads);
  INFO(index.status().ToString());
  REQUIRE(index.ok());
  REQUIRE((*index)->size() == static_cast<int64_t>(data.size()) / d);
  return std::move(*index);
}

std::unique_ptr<DenseIndex> WriteAndRead(const DenseIndex& index, const std::string& path,
                                         bool trained = true) {
  REQUIRE(index.WriteToFile(path).ok());
  absl::StatusOr<std::unique_ptr<DenseIndex>> read =
      DenseIndex::ReadFromFile(path, index.dimension(), index.metric(), trained);
  INFO(read.status().ToString());
  REQUIRE(read.ok());
  return std::move(*read);
}

// Same labels, same scores, in the same order.
void RequireIdentical(const DenseIndex& a, const DenseIndex& b, const std::vector<float>& queries,
                      int d, const LabelSet* allowed = nullptr,
                      const DenseSearchOptions& options = {}) {
  const int64_t n = static_cast<int64_t>(queries.size()) / d;
  for (int64_t q = 0; q < n; ++q) {
    absl::StatusOr<std::vector<ScoredLabel>> x = a.Search(Row(queries, d, q), 10, allowed, options);
    absl::StatusOr<std::vector<ScoredLabel>> y = b.Search(Row(queries, d, q), 10, allowed, options);
    REQUIRE(x.ok());
    REQUIRE(y.ok());
    REQUIRE(x->size() == y->size());
    for (size_t i = 0; i < x->size(); ++i) {
      CHECK((*x)[i].label == (*y)[i].label);
      CHECK((*x)[i].score == (*y)[i].score);
    }
  }
}

TEST_CASE("Flat and HNSW indexes read back from a file search identically", "[dense][io]") {
  TempDir dir;
  const int d = 32;
  const std::vector<float> data = RandomUnitVectors(1500, d, 20);
  const std::vector<float> queries = RandomUnitVectors(20, d, 21);
  LabelSet allowed;
  for (int64_t label = 0; label < 1500; label += 3) allowed.Insert(label);
  for (const char* spec : {"Flat", "HNSW32"}) {
    for (const Metric metric : {Metric::kInnerProduct, Metric::kL2}) {
      INFO(spec << (metric == Metric::kL2 ? " L2" : " IP"));
      const auto built = BuildIndex(d, spec, metric, data);
      CHECK(built->trained());
      const auto read = WriteAndRead(*built, dir.File("index.faiss"));
      CHECK(read->size() == 1500);
      CHECK(read->trained());
      CHECK_FALSE(read->memory_mapped());
      CHECK(read->dimension() == d);
      CHECK(read->metric() == metric);
      RequireIdentical(*built, *read, queries, d);
      RequireIdentical(*built, *read, queries, d, &allowed);
      DenseSearchOptions selector_only;
      selector_only.exact_scan_threshold = 0;
      RequireIdentical(*built, *read, queries, d, &allowed, selector_only);
    }
  }
}

TEST_CASE("Collapsing an index to huge pages changes no search result", "[dense][io]") {
  TempDir dir;
  const int d = 384;
  // 9 MB of vectors: several whole 2 MiB pages whatever the allocation's alignment.
  const std::vector<float> data = RandomUnitVectors(6000, d, 24);
  const std::vector<float> queries = RandomUnitVectors(10, d, 25);
  const auto built = BuildIndex(d, "Flat", Metric::kInnerProduct, data);
  const auto read = WriteAndRead(*built, dir.File("index.faiss"));
  // Linux 6.1+ with transparent huge pages collapses it; anywhere else the call is refused
  // and the memory stays as it was. Either way every result must stay the same.
  read->CollapseToHugePages();
  RequireIdentical(*built, *read, queries, d);
  for (int64_t q = 0; q < 10; ++q) {
    absl::StatusOr<std::vector<ScoredLabel>> hits = read->Search(Row(queries, d, q), 10, nullptr);
    REQUIRE(hits.ok());
    const std::vector<ScoredLabel> expected =
        BruteForce(data, d, Row(queries, d, q), 10, Metric::kInnerProduct);
    REQUIRE(hits->size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) CHECK((*hits)[i].label == expected[i].label);
  }
}

TEST_CASE("A huge-page collapse asks its stop before each 32 MiB slice", "[dense]") {
  // Exactly three slices of whole huge pages, written so they are all present.
  constexpr size_t kHugePage = size_t{2} << 20;
  constexpr size_t kBytes = size_t{96} << 20;
  const size_t mapped = kBytes + kHugePage;
  void* region = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(region != MAP_FAILED);
  char* const start = reinterpret_cast<char*>(
      (reinterpret_cast<uintptr_t>(region) + kHugePage - 1) & ~uintptr_t{kHugePage - 1});
  std::fill_n(start, kBytes, char{1});

  int asked = 0;
  CHECK_FALSE(CollapseRangeToHugePages(start, kBytes, [&] { return ++asked >= 1; }));
  CHECK(asked == 1);  // stopped before any work

  // Each slice is collapsed (Linux 6.1+ with THP) or refused (elsewhere; the next is still
  // tried), and the stop is asked before each.
  asked = 0;
  CollapseRangeToHugePages(start, kBytes, [&] { return ++asked >= 2; });
  CHECK(asked == 2);
  asked = 0;
  CollapseRangeToHugePages(start, kBytes, [&] { return ++asked > 3; });
  CHECK(asked == 3);

  asked = 0;
  CHECK_FALSE(CollapseRangeToHugePages(start, 4096, [&] { return ++asked > 0; }));
  CHECK(asked == 0);  // no whole huge page: nothing to do, nothing asked
  munmap(region, mapped);
}

TEST_CASE("Build trains IVF, and a read-back IVF index is memory-mapped", "[dense][io]") {
  TempDir dir;
  const int d = 32;
  const int64_t n = 2000;
  const std::vector<float> data = RandomUnitVectors(n, d, 22);
  const std::vector<float> queries = RandomUnitVectors(30, d, 23);
  const auto built = BuildIndex(d, "IVF16,Flat", Metric::kInnerProduct, data);
  CHECK(built->trained());
  CHECK_FALSE(built->memory_mapped());
  const auto read = WriteAndRead(*built, dir.File("ivf.faiss"));
  CHECK(read->trained());
  CHECK(read->memory_mapped());
  CHECK(read->size() == n);
  // Mapped lists are the page cache's pages, not the index's own memory.
  CHECK_FALSE(read->CollapseToHugePages());
  RequireIdentical(*built, *read, queries, d);

  // Every list probed: exactly the brute-force answer.
  DenseSearchOptions all_lists;
  all_lists.nprobe = 16;
  for (int q = 0; q < 5; ++q) {
    const auto query = Row(queries, d, q);
    absl::StatusOr<std::vector<ScoredLabel>> hits = read->Search(query, 10, nullptr, all_lists);
    REQUIRE(hits.ok());
    RequireSameAsBruteForce(*hits, BruteForce(data, d, query, 10, Metric::kInnerProduct), data, d,
                            query, Metric::kInnerProduct);
  }
  // The default probes enough lists for good recall.
  double recall = 0;
  for (int q = 0; q < 30; ++q) {
    const auto query = Row(queries, d, q);
    absl::StatusOr<std::vector<ScoredLabel>> hits = read->Search(query, 10, nullptr);
    REQUIRE(hits.ok());
    recall += Recall(*hits, BruteForce(data, d, query, 10, Metric::kInnerProduct));
  }
  INFO("IVF16 default recall@10 = " << recall / 30);
  CHECK(recall / 30 >= 0.8);

  // Filters work on the mapped lists: through the selector, and by exact scan (which
  // reconstructs vectors through the direct map).
  LabelSet allowed;
  for (int64_t label = 0; label < n; label += 40) allowed.Insert(label);
  for (const int64_t threshold : {int64_t{0}, int64_t{4096}}) {
    DenseSearchOptions options;
    options.exact_scan_threshold = threshold;
    for (int q = 0; q < 5; ++q) {
      const auto query = Row(queries, d, q);
      absl::StatusOr<std::vector<ScoredLabel>> hits = read->Search(query, 10, &allowed, options);
      REQUIRE(hits.ok());
      REQUIRE(hits->size() == 10);
      for (const ScoredLabel& hit : *hits) CHECK(allowed.Contains(hit.label));
      if (threshold > 0) {
        RequireSameAsBruteForce(*hits,
                                BruteForce(data, d, query, 10, Metric::kInnerProduct, &allowed),
                                data, d, query, Metric::kInnerProduct);
      }
    }
  }

  // A mapped index is read-only: errors, not crashes.
  CHECK(read->Add(Row(data, d, 0)).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(read->size() == n);
  CHECK(read->WriteToFile(dir.File("again.faiss")).code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("Build trains PQ codebooks when there are enough vectors", "[dense][io]") {
  TempDir dir;
  const int d = 32;
  const std::vector<float> data = RandomUnitVectors(2000, d, 24);
  // 4-bit codes: 16 centroids per sub-quantizer, like the 16 lists.
  const auto built = BuildIndex(d, "IVF16,PQ8x4", Metric::kL2, data);
  CHECK(built->trained());
  const auto read = WriteAndRead(*built, dir.File("ivfpq.faiss"));
  CHECK(read->memory_mapped());
  RequireIdentical(*built, *read, RandomUnitVectors(10, d, 25), d);
  // 8-bit codes need 256 x 39 training vectors: too few here, so an exact index is built.
  const auto fallback = BuildIndex(d, "IVF16,PQ8", Metric::kL2, data);
  CHECK_FALSE(fallback->trained());
  const auto query = Row(data, d, 5);
  absl::StatusOr<std::vector<ScoredLabel>> hits = fallback->Search(query, 5, nullptr);
  REQUIRE(hits.ok());
  RequireSameAsBruteForce(*hits, BruteForce(data, d, query, 5, Metric::kL2), data, d, query,
                          Metric::kL2);
}

TEST_CASE("Build with too few vectors to train serves them exactly", "[dense][io]") {
  TempDir dir;
  const int d = 16;
  const std::vector<float> data = RandomUnitVectors(300, d, 26);
  const auto built = BuildIndex(d, "IVF16,Flat", Metric::kInnerProduct, data);
  CHECK_FALSE(built->trained());
  const auto read = WriteAndRead(*built, dir.File("flat.faiss"), /*trained=*/false);
  CHECK_FALSE(read->trained());
  CHECK_FALSE(read->memory_mapped());
  const auto query = Row(data, d, 7);
  absl::StatusOr<std::vector<ScoredLabel>> hits = read->Search(query, 10, nullptr);
  REQUIRE(hits.ok());
  RequireSameAsBruteForce(*hits, BruteForce(data, d, query, 10, Metric::kInnerProduct), data, d,
                          query, Metric::kInnerProduct);
}

TEST_CASE("Build rejects bad input and restores the OpenMP thread count", "[dense][io]") {
  const int d = 8;
  std::vector<float> data = RandomUnitVectors(50, d, 27);
  CHECK(DenseIndex::Build(d, "Bogus", Metric::kL2, data, 2).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(DenseIndex::Build(d, "Flat", Metric::kL2, absl::MakeConstSpan(data).subspan(1), 2)
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
  data[9] = std::numeric_limits<float>::quiet_NaN();
  CHECK(DenseIndex::Build(d, "Flat", Metric::kL2, data, 2).status().code() ==
        absl::StatusCode::kInvalidArgument);
  const int before = omp_get_max_threads();
  omp_set_num_threads(3);
  REQUIRE(DenseIndex::Build(d, "HNSW32", Metric::kL2, RandomUnitVectors(50, d, 28), 2).ok());
  CHECK(omp_get_max_threads() == 3);
  omp_set_num_threads(before);
  absl::StatusOr<std::unique_ptr<DenseIndex>> empty =
      DenseIndex::Build(d, "HNSW32", Metric::kL2, {}, 1);
  REQUIRE(empty.ok());
  CHECK((*empty)->size() == 0);
}

TEST_CASE("ReadFromFile checks the file against what the caller expects", "[dense][io]") {
  TempDir dir;
  const int d = 16;
  const auto index = BuildIndex(d, "HNSW32", Metric::kInnerProduct, RandomUnitVectors(100, d, 29));
  REQUIRE(index->WriteToFile(dir.File("hnsw.faiss")).ok());
  CHECK(DenseIndex::ReadFromFile(dir.File("hnsw.faiss"), d + 1, Metric::kInnerProduct)
            .status()
            .code() == absl::StatusCode::kDataLoss);
  CHECK(DenseIndex::ReadFromFile(dir.File("hnsw.faiss"), d, Metric::kL2).status().code() ==
        absl::StatusCode::kDataLoss);
  CHECK(DenseIndex::ReadFromFile(dir.File("missing.faiss"), d, Metric::kL2).status().code() ==
        absl::StatusCode::kNotFound);
  {
    std::ofstream garbage(dir.File("garbage.faiss"), std::ios::binary);
    garbage << "this is not a FAISS index";
  }
  absl::StatusOr<std::unique_ptr<DenseIndex>> read;
  REQUIRE_NOTHROW(read = DenseIndex::ReadFromFile(dir.File("garbage.faiss"), d, Metric::kL2));
  CHECK(read.status().code() == absl::StatusCode::kDataLoss);
  CHECK(index->WriteToFile(dir.File("no-such-dir/x.faiss")).code() == absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace quarry
