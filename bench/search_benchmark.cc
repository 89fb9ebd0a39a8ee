// Lexical search and fusion micro-benchmarks: BM25 over the SciFact corpus (one query per
// iteration, the SciFact queries in turn) and score fusion of two candidate lists.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "bench/scifact_corpus.h"
#include "index/search/bm25_index.h"
#include "index/search/fusion.h"
#include "index/text/analyzer.h"

namespace quarry::bench {
namespace {

struct LexicalFixture {
  Bm25Index index;
  std::vector<std::vector<std::string>> queries;  // analysed terms
};

const LexicalFixture* Lexical(benchmark::State& state) {
  static const LexicalFixture* const fixture = []() -> LexicalFixture* {
    absl::StatusOr<std::vector<Document>> corpus = LoadScifactCorpus();
    absl::StatusOr<std::vector<std::string>> queries = LoadScifactQueries();
    if (!corpus.ok() || !queries.ok()) return nullptr;
    const text::Analyzer analyzer;
    auto* built = new LexicalFixture();
    int64_t label = 0;
    for (const Document& document : *corpus) {
      built->index.Add(label++, analyzer.Terms(document.title + "\n" + document.text));
    }
    for (const std::string& query : *queries) built->queries.push_back(analyzer.Terms(query));
    return built;
  }();
  if (fixture == nullptr) state.SkipWithError("cannot read the SciFact corpus or queries");
  return fixture;
}

void BM_Bm25Search(benchmark::State& state) {
  const LexicalFixture* fixture = Lexical(state);
  if (fixture == nullptr) return;
  size_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(fixture->index.Search(
        fixture->queries[next++ % fixture->queries.size()], static_cast<int>(state.range(0)),
        Bm25Params{}, nullptr));
  }
}
BENCHMARK(BM_Bm25Search)->Arg(10)->Arg(100)->Unit(benchmark::kMicrosecond);

// Two lists of `n` candidates overlapping by half, scores descending (as retrievers return).
std::pair<std::vector<ScoredLabel>, std::vector<ScoredLabel>> Candidates(int64_t n) {
  std::mt19937 random(7);
  std::uniform_real_distribution<float> score(0.0f, 1.0f);
  std::vector<ScoredLabel> dense;
  std::vector<ScoredLabel> lexical;
  for (int64_t i = 0; i < n; ++i) {
    dense.push_back({i, score(random)});
    lexical.push_back({i + n / 2, 20 * score(random)});
  }
  auto by_score = [](const ScoredLabel& a, const ScoredLabel& b) { return a.score > b.score; };
  std::sort(dense.begin(), dense.end(), by_score);
  std::sort(lexical.begin(), lexical.end(), by_score);
  return {dense, lexical};
}

void BM_FuseWeighted(benchmark::State& state) {
  const auto [dense, lexical] = Candidates(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(FuseWeighted(dense, lexical, 0.3f, static_cast<int>(state.range(0))));
  }
}
BENCHMARK(BM_FuseWeighted)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_FuseReciprocalRank(benchmark::State& state) {
  const auto [dense, lexical] = Candidates(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        FuseReciprocalRank(dense, lexical, 60, static_cast<int>(state.range(0))));
  }
}
BENCHMARK(BM_FuseReciprocalRank)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace quarry::bench
