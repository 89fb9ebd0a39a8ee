#include "index/search/mmr.h"

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace quarry {
namespace {

// Three candidates in 2-d: 0 and 1 are near-duplicates (almost the same direction), 2 points
// elsewhere and is slightly less relevant than 1.
const std::vector<float> kVectors = {1.0f, 0.0f, 0.99f, 0.14f, 0.0f, 1.0f};
const std::vector<float> kScores = {10.0f, 9.5f, 9.0f};

TEST_CASE("MMR demotes a near-duplicate below a less relevant new candidate", "[mmr]") {
  MmrOptions options;
  options.lambda = 0.5f;
  options.k = 3;
  CHECK(SelectMaximalMarginalRelevance(kScores, kVectors, 2, {}, options) ==
        std::vector<size_t>{0, 2, 1});
}

TEST_CASE("MMR with lambda 1 keeps the relevance order", "[mmr]") {
  MmrOptions options;
  options.lambda = 1.0f;
  options.k = 3;
  CHECK(SelectMaximalMarginalRelevance(kScores, kVectors, 2, {}, options) ==
        std::vector<size_t>{0, 1, 2});
}

TEST_CASE("MMR picks at most k, and at most max_per_group of a group", "[mmr]") {
  MmrOptions options;
  options.lambda = 1.0f;
  options.k = 2;
  CHECK(SelectMaximalMarginalRelevance(kScores, kVectors, 2, {}, options).size() == 2);

  // 0 and 1 are one document: with one chunk per document, 1 is never picked.
  options.k = 3;
  options.max_per_group = 1;
  const std::vector<int64_t> groups = {7, 7, 8};
  CHECK(SelectMaximalMarginalRelevance(kScores, kVectors, 2, groups, options) ==
        std::vector<size_t>{0, 2});
}

TEST_CASE("MMR is scale-free in the scores and handles empty and tied input", "[mmr]") {
  MmrOptions options;
  options.lambda = 0.5f;
  options.k = 3;
  const std::vector<float> scaled = {1000.0f, 950.0f, 900.0f};
  CHECK(SelectMaximalMarginalRelevance(scaled, kVectors, 2, {}, options) ==
        std::vector<size_t>{0, 2, 1});
  CHECK(SelectMaximalMarginalRelevance({}, {}, 2, {}, options).empty());
  // Equal scores and identical vectors: the input order stands.
  const std::vector<float> same_vectors = {1, 0, 1, 0, 1, 0};
  CHECK(SelectMaximalMarginalRelevance(std::vector<float>{1, 1, 1}, same_vectors, 2, {}, options) ==
        std::vector<size_t>{0, 1, 2});
}

}  // namespace
}  // namespace quarry
