#include "index/search/bm25_index.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "index/search/label_set.h"
#include "index/search/scored_label.h"

namespace quarry {
namespace {

using Terms = std::vector<std::string>;

std::vector<int64_t> Labels(const std::vector<ScoredLabel>& hits) {
  std::vector<int64_t> labels;
  for (const ScoredLabel& hit : hits) labels.push_back(hit.label);
  return labels;
}

// Three chunks; N = 3, total length 10, average length 10/3.
Bm25Index TinyIndex() {
  Bm25Index index;
  index.Add(0, Terms{"a", "b", "c"});
  index.Add(1, Terms{"a", "a", "d"});
  index.Add(2, Terms{"b", "d", "e", "f"});
  return index;
}

TEST_CASE("BM25 scores match the formula worked by hand", "[bm25]") {
  const Bm25Index index = TinyIndex();
  const Bm25Params params;  // k1 = 0.9, b = 0.4
  REQUIRE(params.k1 == 0.9f);
  REQUIRE(params.b == 0.4f);
  CHECK(index.live_chunks() == 3);

  // idf(a) = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln 1.6 = 0.4700036
  // label 1: tf 2, len 3: 0.4700036 * 2 * 1.9 / (2 + 0.9 * (0.6 + 0.4 * 0.9)) = 0.6236082
  // label 0: tf 1, len 3: 0.4700036 * 1.9 / (1 + 0.864)                       = 0.4790810
  const std::vector<ScoredLabel> a = index.Search(Terms{"a"}, 10, params, nullptr);
  REQUIRE(Labels(a) == std::vector<int64_t>{1, 0});
  CHECK(a[0].score == Approx(0.6236082).margin(1e-5));
  CHECK(a[1].score == Approx(0.4790810).margin(1e-5));

  // idf(d) = idf(a); label 2: tf 1, len 4: 0.4700036 * 1.9 / (1 + 0.9 * 1.08) = 0.4528433
  const std::vector<ScoredLabel> ad = index.Search(Terms{"a", "d"}, 10, params, nullptr);
  REQUIRE(Labels(ad) == std::vector<int64_t>{1, 0, 2});
  CHECK(ad[0].score == Approx(1.1026891).margin(1e-5));
  CHECK(ad[1].score == Approx(0.4790810).margin(1e-5));
  CHECK(ad[2].score == Approx(0.4528433).margin(1e-5));
}

// Scores every chunk from the formula, independently of the index's accumulators.
std::map<int64_t, double> ReferenceScores(const std::vector<Terms>& chunks, const LabelSet& removed,
                                          const Terms& query, const Bm25Params& params) {
  double live = 0;
  double total_length = 0;
  for (size_t label = 0; label < chunks.size(); ++label) {
    if (removed.Contains(static_cast<int64_t>(label))) continue;
    live += 1;
    total_length += static_cast<double>(chunks[label].size());
  }
  std::map<int64_t, double> scores;
  for (const std::string& term : std::set<std::string>(query.begin(), query.end())) {
    double document_frequency = 0;
    for (size_t label = 0; label < chunks.size(); ++label) {
      if (removed.Contains(static_cast<int64_t>(label))) continue;
      if (std::count(chunks[label].begin(), chunks[label].end(), term) > 0) document_frequency += 1;
    }
    if (document_frequency == 0) continue;
    const double idf = std::log(1 + (live - document_frequency + 0.5) / (document_frequency + 0.5));
    for (size_t label = 0; label < chunks.size(); ++label) {
      if (removed.Contains(static_cast<int64_t>(label))) continue;
      const double tf =
          static_cast<double>(std::count(chunks[label].begin(), chunks[label].end(), term));
      if (tf == 0) continue;
      const double length = static_cast<double>(chunks[label].size());
      const double norm = params.k1 * (1 - params.b + params.b * length / (total_length / live));
      scores[static_cast<int64_t>(label)] += idf * tf * (params.k1 + 1) / (tf + norm);
    }
  }
  return scores;
}

TEST_CASE("Rare-term and common-term queries both score by the formula", "[bm25]") {
  // 2,000 chunks: "common" in every one, "rare" in three. A query of rare terms touches a few
  // postings (sparse accumulator), one with common terms touches them all (array by label);
  // removed chunks must not score in either.
  std::vector<Terms> chunks;
  for (int label = 0; label < 2000; ++label) {
    Terms terms{"common", "w" + std::to_string(label % 37), "w" + std::to_string(label % 11)};
    if (label % 700 == 5) terms.push_back("rare");
    if (label % 3 == 0) terms.push_back("common");
    chunks.push_back(terms);
  }
  Bm25Index index;
  for (size_t label = 0; label < chunks.size(); ++label) {
    index.Add(static_cast<int64_t>(label), chunks[label]);
  }
  LabelSet removed;
  for (int64_t label : {705, 10, 11, 12}) {
    index.Remove(label, chunks[static_cast<size_t>(label)]);
    removed.Insert(label);
  }
  const Bm25Params params;
  for (const Terms& query :
       {Terms{"rare"}, Terms{"rare", "w3"}, Terms{"common"}, Terms{"rare", "common", "w5", "w7"}}) {
    INFO(query.size() << " terms, first " << query[0]);
    const std::map<int64_t, double> expected = ReferenceScores(chunks, removed, query, params);
    const std::vector<ScoredLabel> hits = index.Search(query, 5000, params, nullptr);
    REQUIRE(hits.size() == expected.size());
    for (const ScoredLabel& hit : hits) {
      REQUIRE(expected.contains(hit.label));
      CHECK(hit.score == Approx(expected.at(hit.label)).epsilon(1e-5));
    }
  }
}

TEST_CASE("BM25 counts a repeated query term once", "[bm25]") {
  const Bm25Index index = TinyIndex();
  const std::vector<ScoredLabel> once = index.Search(Terms{"a", "d"}, 10, {}, nullptr);
  const std::vector<ScoredLabel> repeated =
      index.Search(Terms{"a", "d", "a", "a"}, 10, {}, nullptr);
  REQUIRE(Labels(once) == Labels(repeated));
  for (size_t i = 0; i < once.size(); ++i) CHECK(once[i].score == repeated[i].score);
}

TEST_CASE("BM25 parameters enter the formula", "[bm25]") {
  Bm25Index index;
  index.Add(0, Terms{"x", "y"});
  index.Add(1, Terms{"x", "y", "y", "y", "y", "y"});
  index.Add(2, Terms{"z"});
  // With b = 0 length does not matter: equal tf gives equal scores, broken by label.
  Bm25Params no_length;
  no_length.b = 0;
  std::vector<ScoredLabel> hits = index.Search(Terms{"x"}, 10, no_length, nullptr);
  REQUIRE(Labels(hits) == std::vector<int64_t>{0, 1});
  CHECK(hits[0].score == hits[1].score);
  // idf(x) = ln(1 + 1.5 / 2.5); with b = 0 and tf = 1 the score is idf * (k1 + 1) / (1 + k1).
  CHECK(hits[0].score == Approx(std::log(1.6)).margin(1e-5));
  // With b = 1 the shorter chunk wins: avglen = 3, len 2 vs 6.
  Bm25Params full_length;
  full_length.k1 = 1.2f;
  full_length.b = 1;
  hits = index.Search(Terms{"x"}, 10, full_length, nullptr);
  REQUIRE(Labels(hits) == std::vector<int64_t>{0, 1});
  CHECK(hits[0].score == Approx(std::log(1.6) * 2.2 / (1 + 1.2 * 2.0 / 3.0)).margin(1e-5));
  CHECK(hits[1].score == Approx(std::log(1.6) * 2.2 / (1 + 1.2 * 6.0 / 3.0)).margin(1e-5));
}

TEST_CASE("Chunks without a query term do not appear", "[bm25]") {
  const Bm25Index index = TinyIndex();
  CHECK(Labels(index.Search(Terms{"c"}, 10, {}, nullptr)) == std::vector<int64_t>{0});
  CHECK(index.Search(Terms{"unknown"}, 10, {}, nullptr).empty());
  CHECK(index.Search(Terms{}, 10, {}, nullptr).empty());
  CHECK(index.Search(Terms{"a"}, 0, {}, nullptr).empty());
  CHECK(Bm25Index().Search(Terms{"a"}, 10, {}, nullptr).empty());
}

// Five chunks of varied lengths and term frequencies.
std::vector<Terms> FruitChunks() {
  return {
      {"apple", "banana", "cherry"},
      {"apple", "apple", "banana", "date", "elder", "fig"},
      {"banana", "cherry", "cherry"},
      {"apple", "fig"},
      {"grape"},
  };
}

TEST_CASE("Removing a chunk gives the scores of an index that never had it", "[bm25]") {
  const std::vector<Terms> chunks = FruitChunks();
  Bm25Index with_removal;
  for (int64_t label = 0; label < 5; ++label) with_removal.Add(label, chunks[label]);
  with_removal.Remove(1, chunks[1]);
  with_removal.Remove(1, chunks[1]);  // a second removal must not subtract again
  CHECK(with_removal.live_chunks() == 4);

  // Same labels, chunk 1 never added.
  Bm25Index without;
  for (int64_t label : {0, 2, 3, 4}) without.Add(label, chunks[label]);

  for (const Terms& query :
       {Terms{"apple"}, Terms{"banana", "fig"}, Terms{"cherry", "grape"}, Terms{"date"}}) {
    const std::vector<ScoredLabel> got = with_removal.Search(query, 10, {}, nullptr);
    const std::vector<ScoredLabel> want = without.Search(query, 10, {}, nullptr);
    REQUIRE(Labels(got) == Labels(want));
    for (size_t i = 0; i < got.size(); ++i)
      CHECK(got[i].score == Approx(want[i].score).margin(1e-6));
  }
  // The removed chunk is excluded even when a caller's allowed set names it.
  LabelSet allowed;
  allowed.Insert(1);
  allowed.Insert(3);
  CHECK(Labels(with_removal.Search(Terms{"apple"}, 10, {}, &allowed)) == std::vector<int64_t>{3});
}

TEST_CASE("BM25 searches only inside the allowed set", "[bm25]") {
  const Bm25Index index = TinyIndex();
  LabelSet allowed;
  allowed.Insert(0);
  allowed.Insert(2);
  const std::vector<ScoredLabel> hits = index.Search(Terms{"a", "d"}, 10, {}, &allowed);
  REQUIRE(Labels(hits) == std::vector<int64_t>{0, 2});
  // Filtering does not change the collection statistics.
  CHECK(hits[0].score == Approx(0.4790810).margin(1e-5));
  const LabelSet none;
  CHECK(index.Search(Terms{"a"}, 10, {}, &none).empty());
}

TEST_CASE("BM25 returns the k best and breaks ties by label", "[bm25]") {
  Bm25Index index;
  // 60 identical chunks, then one with a higher term frequency.
  for (int64_t label = 0; label < 60; ++label) index.Add(label, Terms{"same", "filler"});
  index.Add(60, Terms{"same", "same"});
  index.Add(61, Terms{"other"});
  const std::vector<ScoredLabel> top = index.Search(Terms{"same"}, 5, {}, nullptr);
  CHECK(Labels(top) == std::vector<int64_t>{60, 0, 1, 2, 3});
  const std::vector<ScoredLabel> all = index.Search(Terms{"same"}, 1000, {}, nullptr);
  REQUIRE(all.size() == 61);
  for (size_t i = 2; i < all.size(); ++i) CHECK(all[i].label == all[i - 1].label + 1);
}

TEST_CASE("Indexes searched with summed statistics score like one index", "[bm25]") {
  std::vector<Terms> chunks = FruitChunks();
  chunks.push_back({"apple", "grape", "grape"});
  Bm25Index whole;
  for (size_t label = 0; label < chunks.size(); ++label) {
    whole.Add(static_cast<int64_t>(label), chunks[label]);
  }
  // The same chunks in three indexes, labelled from 0 in each; "grape" is rare in one part
  // and common in another, so per-index idf would differ.
  const std::vector<std::vector<size_t>> parts = {{0, 1}, {2, 3, 4}, {5}};
  std::vector<Bm25Index> split(parts.size());
  for (size_t p = 0; p < parts.size(); ++p) {
    for (size_t i = 0; i < parts[p].size(); ++i) {
      split[p].Add(static_cast<int64_t>(i), chunks[parts[p][i]]);
    }
  }
  split[1].Remove(2, chunks[4]);  // removed chunks leave the sums too...
  split[1].Add(3, chunks[4]);     // ...and their re-added copy counts once

  for (const Terms& query :
       {Terms{"apple"}, Terms{"grape", "fig"}, Terms{"cherry", "apple"}, Terms{"date", "date"}}) {
    Bm25Statistics statistics;
    for (const Bm25Index& index : split) index.AddStatistics(query, &statistics);
    CHECK(statistics.chunks == 6);
    std::map<size_t, float> got;
    for (size_t p = 0; p < parts.size(); ++p) {
      for (const ScoredLabel& hit : split[p].Search(query, 10, {}, nullptr, &statistics)) {
        const size_t position = static_cast<size_t>(hit.label);
        got[position < parts[p].size() ? parts[p][position] : 4] = hit.score;
      }
    }
    std::map<size_t, float> want;
    for (const ScoredLabel& hit : whole.Search(query, 10, {}, nullptr)) {
      want[static_cast<size_t>(hit.label)] = hit.score;
    }
    REQUIRE(got.size() == want.size());
    for (const auto& [chunk, score] : want) {
      INFO("chunk " << chunk);
      REQUIRE(got.count(chunk) == 1);
      CHECK(got[chunk] == Approx(score).epsilon(1e-6));
    }
  }
  // Its own statistics differ: the point of summing them.
  const std::vector<ScoredLabel> own = split[2].Search(Terms{"grape"}, 10, {}, nullptr);
  REQUIRE(own.size() == 1);
  for (const ScoredLabel& hit : whole.Search(Terms{"grape"}, 10, {}, nullptr)) {
    if (hit.label == 5) CHECK(own[0].score != Approx(hit.score).epsilon(1e-3));
  }
}

}  // namespace
}  // namespace quarry
