#include "index/search/fusion.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "index/search/scored_label.h"

namespace quarry {
namespace {

std::vector<int64_t> Labels(const std::vector<FusedHit>& hits) {
  std::vector<int64_t> labels;
  for (const FusedHit& hit : hits) labels.push_back(hit.label);
  return labels;
}

TEST_CASE("RRF sums 1 / (k + rank) with ranks from 1", "[fusion]") {
  const std::vector<ScoredLabel> dense = {{10, 0.9f}, {20, 0.8f}, {30, 0.7f}};
  const std::vector<ScoredLabel> lexical = {{20, 5.0f}, {40, 3.0f}};
  const std::vector<FusedHit> hits = FuseReciprocalRank(dense, lexical, 60, 10);
  REQUIRE(Labels(hits) == std::vector<int64_t>{20, 10, 40, 30});
  CHECK(hits[0].score == Approx(1.0 / 62 + 1.0 / 61).epsilon(1e-6));
  CHECK(hits[1].score == Approx(1.0 / 61).epsilon(1e-6));
  CHECK(hits[2].score == Approx(1.0 / 62).epsilon(1e-6));
  CHECK(hits[3].score == Approx(1.0 / 63).epsilon(1e-6));
  // Each hit keeps the retrievers' own scores.
  CHECK(hits[0].dense_score == std::optional<float>(0.8f));
  CHECK(hits[0].lexical_score == std::optional<float>(5.0f));
  CHECK(hits[1].dense_score == std::optional<float>(0.9f));
  CHECK_FALSE(hits[1].lexical_score.has_value());
  CHECK_FALSE(hits[2].dense_score.has_value());
  CHECK(hits[2].lexical_score == std::optional<float>(3.0f));
}

TEST_CASE("RRF's constant changes the scores", "[fusion]") {
  const std::vector<ScoredLabel> dense = {{1, 0.5f}};
  const std::vector<FusedHit> hits = FuseReciprocalRank(dense, {}, 0, 10);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].score == Approx(1.0));
}

TEST_CASE("RRF ties break by label ascending", "[fusion]") {
  // 7 and 3 are both first in one list; 9 and 5 both second.
  const std::vector<ScoredLabel> dense = {{7, 0.9f}, {9, 0.1f}};
  const std::vector<ScoredLabel> lexical = {{3, 2.0f}, {5, 1.0f}};
  const std::vector<FusedHit> hits = FuseReciprocalRank(dense, lexical, 60, 10);
  CHECK(Labels(hits) == std::vector<int64_t>{3, 7, 5, 9});
  CHECK(hits[0].score == hits[1].score);
}

TEST_CASE("RRF with one list empty follows the other", "[fusion]") {
  const std::vector<ScoredLabel> lexical = {{4, 3.0f}, {2, 2.0f}, {8, 1.0f}};
  const std::vector<FusedHit> hits = FuseReciprocalRank({}, lexical, 60, 10);
  REQUIRE(Labels(hits) == std::vector<int64_t>{4, 2, 8});
  for (const FusedHit& hit : hits) CHECK_FALSE(hit.dense_score.has_value());
  CHECK(FuseReciprocalRank({}, {}, 60, 10).empty());
}

TEST_CASE("Fusion returns at most top_k hits", "[fusion]") {
  const std::vector<ScoredLabel> dense = {{1, 0.9f}, {2, 0.8f}, {3, 0.7f}};
  const std::vector<ScoredLabel> lexical = {{4, 3.0f}, {3, 2.0f}};
  CHECK(Labels(FuseReciprocalRank(dense, lexical, 60, 2)) == std::vector<int64_t>{3, 1});
  CHECK(FuseReciprocalRank(dense, lexical, 60, 0).empty());
  // Weighted: 1 and 4 tie at 0.5 (each best in one list); the lower label is kept.
  CHECK(Labels(FuseWeighted(dense, lexical, 0.5f, 1)) == std::vector<int64_t>{1});
  CHECK(FuseWeighted(dense, lexical, 0.5f, 0).empty());
}

TEST_CASE("Weighted fusion min-max normalises each list", "[fusion]") {
  // dense normalised: 1 -> 1, 2 -> 0.5, 3 -> 0; lexical: 2 -> 1, 4 -> 0.25, 1 -> 0.
  const std::vector<ScoredLabel> dense = {{1, 0.9f}, {2, 0.5f}, {3, 0.1f}};
  const std::vector<ScoredLabel> lexical = {{2, 10.0f}, {4, 4.0f}, {1, 2.0f}};
  const std::vector<FusedHit> hits = FuseWeighted(dense, lexical, 0.7f, 10);
  REQUIRE(Labels(hits) == std::vector<int64_t>{1, 2, 4, 3});
  CHECK(hits[0].score == Approx(0.7).margin(1e-6));
  CHECK(hits[1].score == Approx(0.7 * 0.5 + 0.3 * 1.0).margin(1e-6));
  CHECK(hits[2].score == Approx(0.3 * 0.25).margin(1e-6));
  CHECK(hits[3].score == Approx(0.0).margin(1e-6));
  CHECK(hits[1].dense_score == std::optional<float>(0.5f));
  CHECK(hits[1].lexical_score == std::optional<float>(10.0f));
  CHECK_FALSE(hits[2].dense_score.has_value());
}

TEST_CASE("Weighted fusion handles negative (L2) scores", "[fusion]") {
  const std::vector<ScoredLabel> dense = {{1, -0.1f}, {2, -0.3f}, {3, -0.5f}};
  const std::vector<FusedHit> hits = FuseWeighted(dense, {}, 1.0f, 10);
  REQUIRE(Labels(hits) == std::vector<int64_t>{1, 2, 3});
  CHECK(hits[0].score == Approx(1.0).margin(1e-6));
  CHECK(hits[1].score == Approx(0.5).margin(1e-6));
  CHECK(hits[2].score == Approx(0.0).margin(1e-6));
}

TEST_CASE("A list with one hit or equal scores normalises to 1", "[fusion]") {
  const std::vector<ScoredLabel> single = {{5, 0.3f}};
  std::vector<FusedHit> hits = FuseWeighted(single, {}, 0.5f, 10);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].score == Approx(0.5).margin(1e-6));

  const std::vector<ScoredLabel> equal = {{9, 2.0f}, {1, 2.0f}};
  hits = FuseWeighted({}, equal, 0.0f, 10);
  REQUIRE(Labels(hits) == std::vector<int64_t>{1, 9});
  CHECK(hits[0].score == Approx(1.0).margin(1e-6));
  CHECK(hits[1].score == Approx(1.0).margin(1e-6));
}

TEST_CASE("Weighted fusion clamps the weight and survives NaN", "[fusion]") {
  const std::vector<ScoredLabel> dense = {{1, 0.9f}, {2, 0.1f}};
  const std::vector<ScoredLabel> lexical = {{2, 3.0f}, {1, 1.0f}};
  CHECK(Labels(FuseWeighted(dense, lexical, 7.0f, 10)) == std::vector<int64_t>{1, 2});
  CHECK(FuseWeighted(dense, lexical, 7.0f, 10)[0].score == Approx(1.0).margin(1e-6));
  CHECK(Labels(FuseWeighted(dense, lexical, -1.0f, 10)) == std::vector<int64_t>{2, 1});
  const std::vector<FusedHit> hits =
      FuseWeighted(dense, lexical, std::numeric_limits<float>::quiet_NaN(), 10);
  REQUIRE(Labels(hits) == std::vector<int64_t>{1, 2});
  for (const FusedHit& hit : hits) CHECK(hit.score == Approx(0.5).margin(1e-6));
}

TEST_CASE("Weighted ties break by label ascending", "[fusion]") {
  // 6 is best in dense, 2 best in lexical; with w = 0.5 both score 0.5.
  const std::vector<ScoredLabel> dense = {{6, 1.0f}, {8, 0.0f}};
  const std::vector<ScoredLabel> lexical = {{2, 4.0f}, {8, 1.0f}};
  const std::vector<FusedHit> hits = FuseWeighted(dense, lexical, 0.5f, 10);
  REQUIRE(Labels(hits) == std::vector<int64_t>{2, 6, 8});
  CHECK(hits[0].score == hits[1].score);
  CHECK(hits[2].score == Approx(0.0).margin(1e-6));
}

}  // namespace
}  // namespace quarry
