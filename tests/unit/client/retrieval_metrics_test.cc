#include "client/retrieval_metrics.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace quarry::client {
namespace {

using Catch::Matchers::WithinAbs;

TEST_CASE("ParseQrels reads BEIR qrels with a header and TREC qrels", "[metrics]") {
  absl::StatusOr<Qrels> beir =
      ParseQrels("query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\t2\n\n2\td3\t0\n");
  REQUIRE(beir.ok());
  REQUIRE(beir->size() == 2);
  CHECK(beir->at("1").at("d1") == 1);
  CHECK(beir->at("1").at("d2") == 2);
  CHECK(beir->at("2").at("d3") == 0);

  absl::StatusOr<Qrels> trec = ParseQrels("7 0 doc 3\r\n");
  REQUIRE(trec.ok());
  CHECK(trec->at("7").at("doc") == 3);
}

TEST_CASE("ParseQrels names the line it cannot read", "[metrics]") {
  absl::StatusOr<Qrels> qrels = ParseQrels("q\td\t1\nq\td\n");
  REQUIRE_FALSE(qrels.ok());
  CHECK(qrels.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(qrels.status().message()).find("line 2") != std::string::npos);
  CHECK(ParseQrels("q\td\tx\nq\td\t1\n").ok());  // a non-numeric first line is the header
  CHECK_FALSE(ParseQrels("q\td\t1\nq\td\tx\n").ok());
}

TEST_CASE("DocumentRanking keeps each document at its best chunk's rank", "[metrics]") {
  CHECK(DocumentRanking({"a", "b", "a", "c", "b"}) == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("nDCG uses graded gains and an ideal ranking of every judged document", "[metrics]") {
  const std::map<std::string, int> judged = {{"a", 2}, {"b", 1}, {"c", 0}};
  // Ideal: a (2) then b (1).
  const double ideal = 2.0 + 1.0 / std::log2(3.0);
  CHECK_THAT(NdcgAt({"a", "b"}, judged, 10), WithinAbs(1.0, 1e-12));
  CHECK_THAT(NdcgAt({"x", "b", "a"}, judged, 10),
             WithinAbs((1.0 / std::log2(3.0) + 2.0 / 2.0) / ideal, 1e-12));
  // The cut-off: "a" at rank 3 is outside the top 2.
  CHECK_THAT(NdcgAt({"x", "b", "a"}, judged, 2), WithinAbs((1.0 / std::log2(3.0)) / ideal, 1e-12));
  // A judged-irrelevant document gains nothing.
  CHECK(NdcgAt({"c"}, judged, 10) == 0);
  // No relevant document judged: 0, not a division by zero.
  CHECK(NdcgAt({"c"}, {{"c", 0}}, 10) == 0);
}

TEST_CASE("Recall and reciprocal rank count grade >= 1 within the cut-off", "[metrics]") {
  const std::map<std::string, int> judged = {{"a", 1}, {"b", 1}, {"c", 1}, {"d", 0}};
  CHECK_THAT(RecallAt({"d", "a", "x", "b"}, judged, 10), WithinAbs(2.0 / 3.0, 1e-12));
  CHECK_THAT(RecallAt({"d", "a", "x", "b"}, judged, 3), WithinAbs(1.0 / 3.0, 1e-12));
  CHECK_THAT(ReciprocalRankAt({"d", "x", "b"}, judged, 10), WithinAbs(1.0 / 3.0, 1e-12));
  CHECK(ReciprocalRankAt({"d", "x", "b"}, judged, 2) == 0);
  CHECK(RecallAt({}, judged, 10) == 0);
}

TEST_CASE("Evaluate averages over every qrels query; a query without a ranking scores 0",
          "[metrics]") {
  const Qrels qrels = {{"1", {{"a", 1}}}, {"2", {{"b", 1}}}};
  const std::map<std::string, std::vector<std::string>> rankings = {{"1", {"a"}}, {"3", {"b"}}};
  const RetrievalMetrics metrics = Evaluate(qrels, rankings);
  CHECK(metrics.queries == 2);
  CHECK_THAT(metrics.ndcg_at_10, WithinAbs(0.5, 1e-12));
  CHECK_THAT(metrics.recall_at_10, WithinAbs(0.5, 1e-12));
  CHECK_THAT(metrics.recall_at_100, WithinAbs(0.5, 1e-12));
  CHECK_THAT(metrics.mrr_at_10, WithinAbs(0.5, 1e-12));
}

TEST_CASE("Recall@100 reaches past the top 10", "[metrics]") {
  std::vector<std::string> ranking;
  for (int i = 0; i < 50; ++i) ranking.push_back("x" + std::to_string(i));
  ranking.push_back("a");
  const Qrels qrels = {{"1", {{"a", 1}}}};
  const RetrievalMetrics metrics = Evaluate(qrels, {{"1", ranking}});
  CHECK(metrics.recall_at_10 == 0);
  CHECK(metrics.recall_at_100 == 1);
  CHECK(metrics.mrr_at_10 == 0);
}

TEST_CASE("Percentile is the nearest rank", "[metrics]") {
  CHECK(Percentile({}, 50) == 0);
  CHECK(Percentile({5, 1, 3, 2, 4}, 50) == 3);
  CHECK(Percentile({5, 1, 3, 2, 4}, 99) == 5);
  CHECK(Percentile({5, 1, 3, 2, 4}, 0) == 1);
}

}  // namespace
}  // namespace quarry::client
