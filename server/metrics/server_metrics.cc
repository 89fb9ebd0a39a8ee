#include "server/metrics/server_metrics.h"

#include "server/metrics/buckets.h"

namespace quarry::metrics {
namespace {

const char* ModeName(SearchMode mode) {
  switch (mode) {
    case SearchMode::kDense:
      return "dense";
    case SearchMode::kLexical:
      return "lexical";
    case SearchMode::kHybrid:
      return "hybrid";
    case SearchMode::kDefault:
      break;
  }
  return "default";
}

prometheus::Family<prometheus::Counter>& IngestCounter(prometheus::Registry& registry,
                                                       const std::string& name,
                                                       const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

}  // namespace

ServerMetrics::ServerMetrics(prometheus::Registry& registry)
    : stage_(prometheus::BuildHistogram()
                 .Name("quarry_search_stage_duration_seconds")
                 .Help("Time spent in each stage of a search")
                 .Register(registry)),
      embed_(stage_.Add({{"stage", "embed"}}, SearchStageBuckets())),
      dense_(stage_.Add({{"stage", "dense"}}, SearchStageBuckets())),
      lexical_(stage_.Add({{"stage", "lexical"}}, SearchStageBuckets())),
      fuse_(stage_.Add({{"stage", "fuse"}}, SearchStageBuckets())),
      rerank_(stage_.Add({{"stage", "rerank"}}, SearchStageBuckets())),
      search_(prometheus::BuildHistogram()
                  .Name("quarry_search_duration_seconds")
                  .Help("Whole searches (Search and Generate's retrieval), by mode used")
                  .Register(registry)),
      ingest_documents_(IngestCounter(registry, "quarry_ingest_documents_total",
                                      "Documents stored by Ingest and IngestStream")),
      ingest_chunks_(IngestCounter(registry, "quarry_ingest_chunks_total",
                                   "Chunks of the documents stored by Ingest and IngestStream")),
      ingest_bytes_(IngestCounter(registry, "quarry_ingest_bytes_total",
                                  "Size of the documents stored, as received (protobuf bytes)")),
      llm_(registry, "quarry_llm", "LLM", /*streams=*/true),
      embedder_(registry, "quarry_embedder", "embedder", /*streams=*/false) {}

void ServerMetrics::RecordSearch(const SearchResult& result) {
  const SearchTimings& timings = result.timings;
  const bool dense = result.mode != SearchMode::kLexical;
  const bool lexical = result.mode != SearchMode::kDense;
  if (timings.embed_ms > 0) embed_.Observe(timings.embed_ms / 1000);
  if (dense) dense_.Observe(timings.dense_ms / 1000);
  if (lexical) lexical_.Observe(timings.lexical_ms / 1000);
  if (dense && lexical) fuse_.Observe(timings.fuse_ms / 1000);
  search_.Add({{"mode", ModeName(result.mode)}}, SearchStageBuckets())
      .Observe(timings.total_ms / 1000);
}

void ServerMetrics::RecordRerank(absl::Duration latency) {
  rerank_.Observe(absl::ToDoubleSeconds(latency));
}

void ServerMetrics::RecordIngest(const std::string& collection, int64_t documents,
                                 int64_t chunks, int64_t bytes) {
  ingest_documents_.Add({{"collection", collection}}).Increment(static_cast<double>(documents));
  ingest_chunks_.Add({{"collection", collection}}).Increment(static_cast<double>(chunks));
  ingest_bytes_.Add({{"collection", collection}}).Increment(static_cast<double>(bytes));
}

}  // namespace quarry::metrics
