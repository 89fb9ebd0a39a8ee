// Text path micro-benchmarks on the SciFact corpus: chunking, analysis (tokenize + stem), and
// the built-in hashing embedder. Throughput is in corpus bytes per second.
#include <benchmark/benchmark.h>

#include <string_view>
#include <vector>

#include "bench/scifact_corpus.h"
#include "index/embed/hashing_embedder.h"
#include "index/text/analyzer.h"
#include "index/text/chunker.h"

namespace quarry::bench {
namespace {

const std::vector<Document>* Corpus(benchmark::State& state) {
  static const absl::StatusOr<std::vector<Document>>* const corpus =
      new absl::StatusOr<std::vector<Document>>(LoadScifactCorpus());
  if (!corpus->ok()) {
    state.SkipWithError(corpus->status().ToString().c_str());
    return nullptr;
  }
  return &**corpus;
}

int64_t TotalBytes(const std::vector<Document>& corpus) {
  int64_t bytes = 0;
  for (const Document& document : corpus) bytes += static_cast<int64_t>(document.text.size());
  return bytes;
}

void BM_ChunkText(benchmark::State& state) {
  const std::vector<Document>* corpus = Corpus(state);
  if (corpus == nullptr) return;
  text::ChunkerOptions options;
  options.target_tokens = static_cast<int>(state.range(0));
  for (auto _ : state) {
    for (const Document& document : *corpus) {
      benchmark::DoNotOptimize(text::ChunkText(document.text, options));
    }
  }
  state.SetBytesProcessed(state.iterations() * TotalBytes(*corpus));
}
BENCHMARK(BM_ChunkText)->Arg(256)->Arg(64)->Unit(benchmark::kMillisecond);

void BM_AnalyzerTerms(benchmark::State& state) {
  const std::vector<Document>* corpus = Corpus(state);
  if (corpus == nullptr) return;
  const text::Analyzer analyzer;
  for (auto _ : state) {
    for (const Document& document : *corpus) {
      benchmark::DoNotOptimize(analyzer.Terms(document.text));
    }
  }
  state.SetBytesProcessed(state.iterations() * TotalBytes(*corpus));
}
BENCHMARK(BM_AnalyzerTerms)->Unit(benchmark::kMillisecond);

// One document (a ~1.5 kB abstract, typical of a chunk) or one query per iteration.
void BM_HashingEmbedder(benchmark::State& state) {
  const std::vector<Document>* corpus = Corpus(state);
  if (corpus == nullptr) return;
  absl::StatusOr<std::unique_ptr<HashingEmbedder>> embedder =
      HashingEmbedder::Create({static_cast<int>(state.range(0))});
  if (!embedder.ok()) return state.SkipWithError(embedder.status().ToString().c_str());
  std::vector<float> vector(static_cast<size_t>(state.range(0)));
  size_t next = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::string& text = (*corpus)[next++ % corpus->size()].text;
    (*embedder)->EmbedOne(text, vector.data());
    benchmark::DoNotOptimize(vector.data());
    bytes += static_cast<int64_t>(text.size());
  }
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_HashingEmbedder)->Arg(384)->Arg(768)->Unit(benchmark::kMicrosecond);

void BM_HashingEmbedderQuery(benchmark::State& state) {
  absl::StatusOr<std::vector<std::string>> queries = LoadScifactQueries();
  if (!queries.ok()) return state.SkipWithError(queries.status().ToString().c_str());
  absl::StatusOr<std::unique_ptr<HashingEmbedder>> embedder = HashingEmbedder::Create({768});
  if (!embedder.ok()) return state.SkipWithError(embedder.status().ToString().c_str());
  std::vector<float> vector(768);
  size_t next = 0;
  for (auto _ : state) {
    (*embedder)->EmbedOne((*queries)[next++ % queries->size()], vector.data());
    benchmark::DoNotOptimize(vector.data());
  }
}
BENCHMARK(BM_HashingEmbedderQuery)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace quarry::bench
