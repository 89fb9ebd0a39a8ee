// quarry-server's state, read at scrape time (so it is never stale and costs nothing between
// scrapes): per collection, what is served and how far the indexer lags; the LLM breaker.
//
//   quarry_collections                                collections served
//   quarry_collection_documents{collection}           live documents
//   quarry_collection_chunks{collection}              live chunks
//   quarry_collection_vectors{collection}             live chunks with a dense vector
//   quarry_collection_shards{collection}              shards of the served manifest
//   quarry_collection_manifest_generation{collection} generation served
//   quarry_collection_fresh_chunks{collection}        chunks served from the log tail (the
//                                                     fresh index), not yet in a shard
//   quarry_collection_log_bytes_behind{collection}    log bytes after the manifest's position:
//                                                     the indexer's lag
//   quarry_collection_disk_bytes{collection}          shards + log on disk
//   quarry_collection_shard_errors{collection}        shards refused (failed their checks)
//   quarry_llm_circuit_breaker_state                  0 closed, 1 open, 2 half-open (absent
//                                                     without an LLM)
#ifndef QUARRY_SERVER_METRICS_SERVER_STATE_COLLECTOR_H_
#define QUARRY_SERVER_METRICS_SERVER_STATE_COLLECTOR_H_

#include <vector>

#include "index/catalog.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "index/remote/circuit_breaker.h"

namespace quarry::metrics {

class ServerStateCollector : public prometheus::Collectable {
 public:
  // Both must outlive the collector; `breaker` may be null (no LLM configured).
  ServerStateCollector(const Catalog* catalog, const remote::CircuitBreaker* breaker)
      : catalog_(catalog), breaker_(breaker) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const Catalog* const catalog_;
  const remote::CircuitBreaker* const breaker_;
};

}  // namespace quarry::metrics

#endif  // QUARRY_SERVER_METRICS_SERVER_STATE_COLLECTOR_H_
