#include "index/search/relevance_feedback.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "index/search/bm25_index.h"
#include "index/search/scored_label.h"

namespace quarry {
namespace {

using Terms = std::vector<std::string>;

std::map<std::string, double> AsMap(const std::vector<WeightedTerm>& terms) {
  std::map<std::string, double> map;
  for (const WeightedTerm& term : terms) map[term.term] = term.weight;
  return map;
}

TEST_CASE("RM3 weighs feedback words by chunk score and frequency, worked by hand", "[feedback]") {
  // Scores 3 and 1: chunk weights 0.75 and 0.25.
  //   P(x|R) = 0.75 * 2/4 = 0.375, P(q|R) = 0.75 * 1/4 + 0.25 * 1/2 = 0.3125,
  //   P(y|R) = 0.75 * 1/4 = 0.1875, P(z|R) = 0.25 * 1/2 = 0.125.
  // Two terms kept (x, q), renormalised over 0.6875; original weight 0.5.
  const std::vector<FeedbackChunk> feedback = {{3.0, Terms{"q", "x", "x", "y"}},
                                               {1.0, Terms{"q", "z"}}};
  RelevanceFeedbackParams params;
  params.terms = 2;
  params.original_weight = 0.5f;
  const std::vector<WeightedTerm> expanded = ExpandQuery(Terms{"q", "r"}, feedback, params);
  const std::map<std::string, double> weights = AsMap(expanded);
  REQUIRE(weights.size() == 3);
  CHECK(weights.at("q") == Approx(0.5 * 0.5 + 0.5 * 0.3125 / 0.6875));
  CHECK(weights.at("r") == Approx(0.5 * 0.5));
  CHECK(weights.at("x") == Approx(0.5 * 0.375 / 0.6875));
  CHECK(expanded.front().term == "q");  // heaviest first
}

TEST_CASE("Without feedback the query keeps its own words, repeats weighing more", "[feedback]") {
  RelevanceFeedbackParams params;
  const std::map<std::string, double> weights =
      AsMap(ExpandQuery(Terms{"a", "a", "b"}, {}, params));
  REQUIRE(weights.size() == 2);
  CHECK(weights.at("a") == Approx(2.0 / 3));
  CHECK(weights.at("b") == Approx(1.0 / 3));
}

TEST_CASE("An expanded query finds a chunk holding none of the original words", "[feedback]") {
  // Chunk 2 shares no word with the query, only the vocabulary of the chunks that match it.
  Bm25Index index;
  index.Add(0, Terms{"claim", "virus", "vaccine"});
  index.Add(1, Terms{"claim", "virus", "vaccine", "antibody"});
  index.Add(2, Terms{"vaccine", "antibody", "trial"});
  index.Add(3, Terms{"weather", "rain"});
  const Bm25Params bm25;
  const Terms query = {"claim", "virus"};
  const std::vector<ScoredLabel> first = index.Search(query, 10, bm25, nullptr);
  REQUIRE(first.size() == 2);

  std::vector<FeedbackChunk> feedback;
  feedback.push_back({first[0].score, Terms{"claim", "virus", "vaccine"}});
  feedback.push_back({first[1].score, Terms{"claim", "virus", "vaccine", "antibody"}});
  RelevanceFeedbackParams params;
  params.terms = 3;
  const std::vector<WeightedTerm> expanded = ExpandQuery(query, feedback, params);
  const std::vector<ScoredLabel> second = index.Search(expanded, 10, bm25, nullptr);
  std::vector<int64_t> labels;
  for (const ScoredLabel& hit : second) labels.push_back(hit.label);
  REQUIRE(labels.size() == 3);
  CHECK(labels[2] == 2);
}

TEST_CASE("Weighted BM25 scales each term's contribution by its weight", "[feedback][bm25]") {
  Bm25Index index;
  index.Add(0, Terms{"a", "b"});
  index.Add(1, Terms{"c"});
  const Bm25Params bm25;
  const std::vector<ScoredLabel> plain = index.Search(Terms{"a"}, 10, bm25, nullptr);
  const std::vector<ScoredLabel> weighted =
      index.Search(std::vector<WeightedTerm>{{"a", 0.25}}, 10, bm25, nullptr);
  REQUIRE(plain.size() == 1);
  REQUIRE(weighted.size() == 1);
  CHECK(weighted[0].score == Approx(0.25 * plain[0].score));
}

}  // namespace
}  // namespace quarry
