#include "index/search/hnsw_flat_search.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/impl/IDSelector.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "index/search/label_set.h"
#include "index/search/scored_label.h"
#include "index/search/vector_distance.h"

namespace quarry::internal {
namespace {

constexpr int kDimension = 24;

std::vector<float> RandomVectors(int64_t n, uint32_t seed, int dimension = kDimension) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> data(static_cast<size_t>(n) * dimension);
  for (float& value : data) value = normal(rng);
  return data;
}

// FAISS's own IndexHNSW::search for one query, as scored labels (higher is better), called as
// DenseIndex calls it: the beam in the search parameters, the index's own efSearch left at
// FAISS's default (16), which still sizes the candidate queue.
std::vector<ScoredLabel> FaissSearch(faiss::IndexHNSWFlat& index, const float* query, int k, int ef,
                                     faiss::IDSelector* selector) {
  faiss::SearchParametersHNSW params;
  params.efSearch = ef;
  params.sel = selector;
  std::vector<float> distances(static_cast<size_t>(k));
  std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(k));
  index.search(1, query, k, distances.data(), labels.data(), &params);
  std::vector<ScoredLabel> hits;
  for (int i = 0; i < k; ++i) {
    if (labels[i] < 0) continue;
    const bool l2 = index.metric_type == faiss::METRIC_L2;
    hits.push_back({labels[i], l2 ? -distances[i] : distances[i]});
  }
  return hits;
}

// Exact equality, scores bit for bit: the same algorithm with the same distance functions.
void RequireSameHits(const std::vector<ScoredLabel>& ours, const std::vector<ScoredLabel>& faiss) {
  REQUIRE(ours.size() == faiss.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    INFO("rank " << i);
    REQUIRE(ours[i].label == faiss[i].label);
    REQUIRE(ours[i].score == faiss[i].score);
  }
}

TEST_CASE("HNSW-flat search returns exactly what FAISS's IndexHNSW::search returns",
          "[hnsw_flat_search]") {
  const faiss::MetricType metric = GENERATE(faiss::METRIC_INNER_PRODUCT, faiss::METRIC_L2);
  INFO("metric " << (metric == faiss::METRIC_L2 ? "L2" : "inner product"));
  faiss::IndexHNSWFlat index(kDimension, 16, metric);
  REQUIRE(index.hnsw.efSearch == 16);
  // The last 200 vectors repeat the first 200, so that equal distances (ties) occur.
  std::vector<float> vectors = RandomVectors(2800, 7);
  vectors.insert(vectors.end(), vectors.begin(), vectors.begin() + 200 * kDimension);
  index.add(3000, vectors.data());
  const std::unique_ptr<HnswFlatSearch> search = HnswFlatSearch::For(index, FaissVectorKernels());
  REQUIRE(search != nullptr);
  const std::vector<float> queries = RandomVectors(100, 8);

  // 600 queries on one searcher: its visited marks wrap their 8-bit generation twice. ef 8 is
  // below the index's efSearch: the queue is sized by the latter, the stop by the former.
  // Every fourth query is a stored vector that has a duplicate: its best two hits tie.
  int queries_with_full_results = 0;
  int tied_queries = 0;
  for (const int ef : {8, 40}) {
    for (const int k : {1, 10, 60}) {
      for (int q = 0; q < 100; ++q) {
        INFO("ef " << ef << ", k " << k << ", query " << q);
        const float* query = q % 4 == 0 ? vectors.data() + static_cast<size_t>(q) * kDimension
                                        : queries.data() + static_cast<size_t>(q) * kDimension;
        const std::vector<ScoredLabel> ours = search->Search(query, k, ef, nullptr);
        RequireSameHits(ours, FaissSearch(index, query, k, ef, nullptr));
        if (static_cast<int>(ours.size()) == k) ++queries_with_full_results;
        if (ours.size() >= 2 && ours[0].score == ours[1].score) ++tied_queries;
      }
    }
  }
  CHECK(queries_with_full_results == 600);
  CHECK(tied_queries >= 80);  // 100 when the beam finds both copies every time

  SECTION("only allowed labels come back, as with FAISS's ID selector") {
    LabelSet allowed;
    std::vector<faiss::Index::idx_t> allowed_ids;
    for (int64_t label = 0; label < 3000; label += 3) {
      allowed.Insert(label);
      allowed_ids.push_back(label);
    }
    faiss::IDSelectorBatch selector(allowed_ids.size(), allowed_ids.data());
    for (int q = 0; q < 100; ++q) {
      const float* query = queries.data() + static_cast<size_t>(q) * kDimension;
      const std::vector<ScoredLabel> ours = search->Search(query, 10, 64, &allowed);
      for (const ScoredLabel& hit : ours) REQUIRE(hit.label % 3 == 0);
      RequireSameHits(ours, FaissSearch(index, query, 10, 64, &selector));
    }
  }

  SECTION("vectors added after the searcher was made are found") {
    const std::vector<float> more = RandomVectors(2000, 9);
    index.add(2000, more.data());
    int found_new = 0;
    for (int q = 0; q < 50; ++q) {
      const float* query = more.data() + static_cast<size_t>(q) * kDimension;
      const std::vector<ScoredLabel> ours = search->Search(query, 5, 32, nullptr);
      RequireSameHits(ours, FaissSearch(index, query, 5, 32, nullptr));
      if (!ours.empty() && ours[0].label == 3000 + q) ++found_new;
    }
    CHECK(found_new >= 45);
  }
}

TEST_CASE("HNSW-flat search with the fastest kernels finds what FAISS finds",
          "[hnsw_flat_search]") {
  // 100 dimensions: the AVX2 kernel's 32-float blocks, an 8-float step and a 4-float tail.
  constexpr int kWide = 100;
  const faiss::MetricType metric = GENERATE(faiss::METRIC_INNER_PRODUCT, faiss::METRIC_L2);
  INFO("metric " << (metric == faiss::METRIC_L2 ? "L2" : "inner product"));
  faiss::IndexHNSWFlat index(kWide, 16, metric);
  const std::vector<float> vectors = RandomVectors(3000, 11, kWide);
  index.add(3000, vectors.data());
  const std::unique_ptr<HnswFlatSearch> search = HnswFlatSearch::For(index);
  REQUIRE(search != nullptr);
  const std::vector<float> queries = RandomVectors(200, 12, kWide);

  // Sums may differ from FAISS's in their last bits, which can reorder near-equal scores and so
  // the beam's path: nearly every hit must still be FAISS's, with FAISS's score.
  int same_labels = 0;
  constexpr int kQueries = 200;
  constexpr int kTop = 10;
  for (int q = 0; q < kQueries; ++q) {
    const float* query = queries.data() + static_cast<size_t>(q) * kWide;
    const std::vector<ScoredLabel> ours = search->Search(query, kTop, 64, nullptr);
    const std::vector<ScoredLabel> faiss = FaissSearch(index, query, kTop, 64, nullptr);
    REQUIRE(ours.size() == kTop);
    REQUIRE(faiss.size() == kTop);
    for (const ScoredLabel& hit : ours) {
      for (const ScoredLabel& expected : faiss) {
        if (hit.label != expected.label) continue;
        ++same_labels;
        CHECK_THAT(hit.score, Catch::Matchers::WithinRel(expected.score, 1e-5f) ||
                                  Catch::Matchers::WithinAbs(expected.score, 1e-4));
      }
    }
  }
  CHECK(same_labels >= kQueries * kTop * 99 / 100);
}

TEST_CASE("HNSW-flat search is only offered for HNSW over flat vectors", "[hnsw_flat_search]") {
  faiss::IndexHNSWFlat hnsw_flat(kDimension, 16, faiss::METRIC_L2);
  CHECK(HnswFlatSearch::For(hnsw_flat) != nullptr);
  faiss::IndexFlatL2 flat(kDimension);
  CHECK(HnswFlatSearch::For(flat) == nullptr);
  faiss::IndexHNSWSQ scalar_quantized(kDimension, faiss::ScalarQuantizer::QT_8bit, 16);
  CHECK(HnswFlatSearch::For(scalar_quantized) == nullptr);
  faiss::IndexHNSWFlat wide_upper_beam(kDimension, 16, faiss::METRIC_L2);
  wide_upper_beam.hnsw.upper_beam = 4;
  CHECK(HnswFlatSearch::For(wide_upper_beam) == nullptr);
}

TEST_CASE("HNSW-flat search of an empty index finds nothing", "[hnsw_flat_search]") {
  faiss::IndexHNSWFlat index(kDimension, 16, faiss::METRIC_INNER_PRODUCT);
  const std::unique_ptr<HnswFlatSearch> search = HnswFlatSearch::For(index);
  REQUIRE(search != nullptr);
  const std::vector<float> query = RandomVectors(1, 3);
  CHECK(search->Search(query.data(), 10, 32, nullptr).empty());
}

}  // namespace
}  // namespace quarry::internal
