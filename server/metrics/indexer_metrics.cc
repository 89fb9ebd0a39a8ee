#include "server/metrics/indexer_metrics.h"

#include "server/metrics/buckets.h"

namespace quarry::metrics {
namespace {

prometheus::Family<prometheus::Counter>& Counter(prometheus::Registry& registry,
                                                 const std::string& name,
                                                 const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Gauge>& Gauge(prometheus::Registry& registry,
                                             const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

}  // namespace

IndexerMetrics::IndexerMetrics(prometheus::Registry& registry)
    : shards_built_(Counter(registry, "quarry_indexer_shards_built_total",
                            "Shards built and published, by source (log tail or merge)")),
      build_duration_(prometheus::BuildHistogram()
                          .Name("quarry_indexer_build_duration_seconds")
                          .Help("Time to build and publish one shard, by source")
                          .Register(registry)),
      chunks_indexed_(Counter(registry, "quarry_indexer_chunks_indexed_total",
                              "Chunks (vectors) written into shards, by source")),
      vectors_per_second_(Gauge(registry, "quarry_indexer_vectors_per_second",
                                "Chunks (vectors) per second of the last build from the log")),
      merges_(Counter(registry, "quarry_indexer_merges_total", "Size-tier shard merges")),
      log_bytes_behind_(Gauge(registry, "quarry_indexer_log_bytes_behind",
                              "Ingest log bytes that no published shard covers yet")),
      generation_(Gauge(registry, "quarry_indexer_manifest_generation",
                        "Last manifest generation published")),
      garbage_(Counter(registry, "quarry_indexer_garbage_collected_total",
                       "Retired shards and covered log segments deleted, by kind")),
      errors_(Counter(registry, "quarry_indexer_errors_total",
                      "Indexer passes over a collection that failed")) {}

void IndexerMetrics::RecordStep(const std::string& collection, const std::string& source,
                                const IndexerStepResult& result) {
  if (!result.published) return;
  shards_built_.Add({{"collection", collection}, {"source", source}}).Increment();
  build_duration_.Add({{"source", source}}, BuildBuckets()).Observe(result.seconds);
  chunks_indexed_.Add({{"collection", collection}, {"source", source}})
      .Increment(static_cast<double>(result.chunks));
  generation_.Add({{"collection", collection}}).Set(static_cast<double>(result.generation));
  if (source == "merge") merges_.Add({{"collection", collection}}).Increment();
  if (source == "log" && result.seconds > 0) {
    vectors_per_second_.Add({{"collection", collection}})
        .Set(static_cast<double>(result.chunks) / result.seconds);
  }
}

void IndexerMetrics::RecordLag(const std::string& collection, uint64_t log_bytes_behind) {
  log_bytes_behind_.Add({{"collection", collection}}).Set(static_cast<double>(log_bytes_behind));
}

void IndexerMetrics::RecordGarbage(const std::string& collection,
                                   const GarbageCollected& collected) {
  garbage_.Add({{"collection", collection}, {"kind", "shard"}})
      .Increment(static_cast<double>(collected.shards));
  garbage_.Add({{"collection", collection}, {"kind", "log_segment"}})
      .Increment(static_cast<double>(collected.log_segments));
}

void IndexerMetrics::RecordError(const std::string& collection) {
  errors_.Add({{"collection", collection}}).Increment();
}

}  // namespace quarry::metrics
