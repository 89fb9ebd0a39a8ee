// Storage micro-benchmarks: appending one record to the ingest log (with and without fsync),
// and opening an immutable shard (checksums, chunk store mmap, BM25 postings, FAISS index;
// IVF lists memory-mapped) with the page cache warm.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/random_vectors.h"
#include "index/document.h"
#include "index/shard/shard.h"
#include "index/shard/shard_builder.h"
#include "index/store/filesystem.h"
#include "index/store/ingest_log.h"
#include "index/store/log_record.h"
#include "index/text/analyzer.h"

namespace quarry::bench {
namespace {

constexpr int kDimension = 384;

// A directory under $TMPDIR (or /tmp), removed with its contents when destroyed.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    std::string pattern = absl::StrCat(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp",
                                       "/quarry-bench-XXXXXX");
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDirectory() {
    if (!path_.empty()) RemoveAll(path_).IgnoreError();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A document of `text_bytes` of words and one chunk with a unit-length random vector.
StoredDocument SyntheticDocument(int64_t index, size_t text_bytes, std::mt19937& random) {
  static const char* const kWords[] = {"protein", "cell",  "binding", "tumour", "response",
                                       "gene",    "dose",  "patient", "signal", "receptor"};
  StoredDocument document;
  document.id = absl::StrCat("doc-", index);
  while (document.text.size() < text_bytes) {
    absl::StrAppend(&document.text, kWords[random() % 10], " ");
  }
  StoredChunk chunk;
  chunk.end = static_cast<uint32_t>(document.text.size());
  chunk.vector = RandomUnitVectors(1, kDimension, static_cast<uint32_t>(random()));
  document.chunks.push_back(std::move(chunk));
  return document;
}

// range(0): 1 = fsync every append (the server's default), 0 = no fsync.
void BM_LogAppend(benchmark::State& state) {
  ScratchDirectory directory;
  IngestLogOptions options;
  options.sync = state.range(0) != 0;
  absl::StatusOr<std::unique_ptr<IngestLogWriter>> writer =
      IngestLogWriter::Open(directory.path() + "/log", options);
  if (!writer.ok()) return state.SkipWithError(writer.status().ToString().c_str());
  std::mt19937 random(1);
  LogRecord record;
  record.documents.push_back(SyntheticDocument(0, 1024, random));
  for (auto _ : state) {
    absl::StatusOr<LogPosition> position = (*writer)->Append(record);
    if (!position.ok()) return state.SkipWithError(position.status().ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LogAppend)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();

// range(0): documents (one chunk each); the index spec is the benchmark's label.
void ShardLoad(benchmark::State& state, const std::string& index_spec) {
  ScratchDirectory directory;
  std::mt19937 random(2);
  std::vector<StoredDocument> documents;
  for (int64_t i = 0; i < state.range(0); ++i) {
    documents.push_back(SyntheticDocument(i, 512, random));
  }
  const text::Analyzer analyzer;
  ShardBuildOptions options;
  options.dimension = kDimension;
  options.index_spec = index_spec;
  options.threads = 2;
  absl::StatusOr<ShardInfo> built =
      ShardBuilder::Build(options, documents, analyzer, directory.path(), "shard-0");
  if (!built.ok()) return state.SkipWithError(built.status().ToString().c_str());
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<Shard>> shard =
        Shard::Open(directory.path() + "/shard-0", kDimension, Metric::kInnerProduct);
    if (!shard.ok()) return state.SkipWithError(shard.status().ToString().c_str());
    benchmark::DoNotOptimize(shard->get());
  }
  state.SetBytesProcessed(state.iterations() * built->bytes);
}
BENCHMARK_CAPTURE(ShardLoad, Flat, std::string("Flat"))
    ->Arg(50000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(ShardLoad, IVF256_Flat, std::string("IVF256,Flat"))
    ->Arg(50000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace quarry::bench
