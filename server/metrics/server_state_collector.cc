#include "server/metrics/server_state_collector.h"

#include <memory>
#include <string>

#include "index/indexer/collection_indexer.h"
#include "server/metrics/scrape_time_family.h"

namespace quarry::metrics {

using prometheus::MetricType;

std::vector<prometheus::MetricFamily> ServerStateCollector::Collect() const {
  const std::vector<std::shared_ptr<Collection>> collections = catalog_->List();
  ScrapeTimeFamily documents("quarry_collection_documents", "Live documents", MetricType::Gauge);
  ScrapeTimeFamily chunks("quarry_collection_chunks", "Live chunks", MetricType::Gauge);
  ScrapeTimeFamily vectors("quarry_collection_vectors", "Live chunks with a dense vector",
                           MetricType::Gauge);
  ScrapeTimeFamily shards("quarry_collection_shards", "Shards of the served manifest",
                          MetricType::Gauge);
  ScrapeTimeFamily generation("quarry_collection_manifest_generation",
                              "Manifest generation served", MetricType::Gauge);
  ScrapeTimeFamily fresh("quarry_collection_fresh_chunks",
                         "Chunks served from the log tail, not yet in a shard",
                         MetricType::Gauge);
  ScrapeTimeFamily behind("quarry_collection_log_bytes_behind",
                          "Ingest log bytes after the manifest's position (indexer lag)",
                          MetricType::Gauge);
  ScrapeTimeFamily disk("quarry_collection_disk_bytes", "Shards and log on disk",
                        MetricType::Gauge);
  ScrapeTimeFamily errors("quarry_collection_shard_errors",
                          "Shards refused because they failed their checks", MetricType::Gauge);
  for (const std::shared_ptr<Collection>& collection : collections) {
    const std::string& name = collection->config().name;
    const CollectionStatistics statistics = collection->Statistics();
    const auto label = [&name] {
      return std::vector<std::pair<std::string, std::string>>{{"collection", name}};
    };
    documents.Add(static_cast<double>(statistics.documents), label());
    chunks.Add(static_cast<double>(statistics.chunks), label());
    vectors.Add(collection->config().dimension > 0 ? static_cast<double>(statistics.chunks) : 0,
                label());
    shards.Add(static_cast<double>(statistics.shards), label());
    generation.Add(static_cast<double>(statistics.generation), label());
    fresh.Add(static_cast<double>(statistics.fresh_chunks), label());
    if (absl::StatusOr<uint64_t> lag = LogBytesBehind(collection->directory()); lag.ok()) {
      behind.Add(static_cast<double>(*lag), label());
    }
    disk.Add(static_cast<double>(statistics.disk_bytes), label());
    errors.Add(static_cast<double>(collection->ShardErrors().size()), label());
  }
  std::vector<prometheus::MetricFamily> families;
  families.push_back(ScrapeTimeFamily("quarry_collections", "Collections served",
                                      MetricType::Gauge)
                         .Add(static_cast<double>(collections.size()))
                         .Take());
  for (ScrapeTimeFamily* family :
       {&documents, &chunks, &vectors, &shards, &generation, &fresh, &behind, &disk, &errors}) {
    families.push_back(family->Take());
  }
  if (breaker_ != nullptr) {
    double state = 0;
    switch (breaker_->state()) {
      case remote::CircuitBreaker::State::kClosed:
        state = 0;
        break;
      case remote::CircuitBreaker::State::kOpen:
        state = 1;
        break;
      case remote::CircuitBreaker::State::kHalfOpen:
        state = 2;
        break;
    }
    families.push_back(ScrapeTimeFamily("quarry_llm_circuit_breaker_state",
                                        "LLM circuit breaker: 0 closed, 1 open, 2 half-open",
                                        MetricType::Gauge)
                           .Add(state)
                           .Take());
  }
  return families;
}

}  // namespace quarry::metrics
