// The SciFact corpus and queries (../shared/data/scifact, BEIR layout) as the benchmarks' real
// text: documents for the chunker, embedder and BM25, query texts for searching them.
#ifndef QUARRY_BENCH_SCIFACT_CORPUS_H_
#define QUARRY_BENCH_SCIFACT_CORPUS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/document.h"

namespace quarry::bench {

// The directory holding corpus.jsonl and queries.jsonl: $QUARRY_SCIFACT_DIR, else the shared
// data directory the build was configured with.
std::string ScifactDirectory();

absl::StatusOr<std::vector<Document>> LoadScifactCorpus();
// The text of each query in queries.jsonl.
absl::StatusOr<std::vector<std::string>> LoadScifactQueries();

}  // namespace quarry::bench

#endif  // QUARRY_BENCH_SCIFACT_CORPUS_H_
