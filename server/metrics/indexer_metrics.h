// What quarry-indexer reports about its work, per collection:
//
//   quarry_indexer_shards_built_total{collection, source}   shards published; source is "log"
//                                                           (the ingest log's tail) or "merge"
//   quarry_indexer_build_duration_seconds{source}           time to build and publish one
//   quarry_indexer_chunks_indexed_total{collection, source} chunks (vectors) put in shards
//   quarry_indexer_vectors_per_second{collection}           rate of the last build from the log
//   quarry_indexer_merges_total{collection}                 size-tier merges
//   quarry_indexer_log_bytes_behind{collection}             log bytes no shard covers yet
//   quarry_indexer_manifest_generation{collection}          last generation published
//   quarry_indexer_garbage_collected_total{collection, kind} "shard" or "log_segment" removed
//   quarry_indexer_errors_total{collection}                 passes that failed
//
// The indexer's library reports plain results (IndexerStepResult, GarbageCollected); this is
// where they become Prometheus series.
#ifndef QUARRY_SERVER_METRICS_INDEXER_METRICS_H_
#define QUARRY_SERVER_METRICS_INDEXER_METRICS_H_

#include <cstdint>
#include <string>

#include "index/indexer/collection_indexer.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace quarry::metrics {

class IndexerMetrics {
 public:
  explicit IndexerMetrics(prometheus::Registry& registry);

  // A build step's result; nothing is recorded when it published nothing. `source`: "log" or
  // "merge".
  void RecordStep(const std::string& collection, const std::string& source,
                  const IndexerStepResult& result);
  void RecordLag(const std::string& collection, uint64_t log_bytes_behind);
  void RecordGarbage(const std::string& collection, const GarbageCollected& collected);
  void RecordError(const std::string& collection);

 private:
  prometheus::Family<prometheus::Counter>& shards_built_;
  prometheus::Family<prometheus::Histogram>& build_duration_;
  prometheus::Family<prometheus::Counter>& chunks_indexed_;
  prometheus::Family<prometheus::Gauge>& vectors_per_second_;
  prometheus::Family<prometheus::Counter>& merges_;
  prometheus::Family<prometheus::Gauge>& log_bytes_behind_;
  prometheus::Family<prometheus::Gauge>& generation_;
  prometheus::Family<prometheus::Counter>& garbage_;
  prometheus::Family<prometheus::Counter>& errors_;
};

}  // namespace quarry::metrics

#endif  // QUARRY_SERVER_METRICS_INDEXER_METRICS_H_
