// What quarry-server records as it serves, besides the per-RPC figures of the interceptor:
//
//   quarry_search_stage_duration_seconds{stage}   embed, dense, lexical, fuse, rerank (calls
//                                                 to the configured reranker only)
//   quarry_search_duration_seconds{mode}          whole searches (Search and Generate's
//                                                 retrieval), by the mode actually used
//   quarry_ingest_documents_total{collection}     documents (log records) stored by Ingest
//   quarry_ingest_chunks_total{collection}        and IngestStream
//   quarry_ingest_bytes_total{collection}         their size as received (protobuf bytes)
//   LLM and embedder calls: see upstream_metrics.h.
//
// Services take a ServerMetrics* that is null when metrics are disabled.
#ifndef QUARRY_SERVER_METRICS_SERVER_METRICS_H_
#define QUARRY_SERVER_METRICS_SERVER_METRICS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "index/collection.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/metrics/upstream_metrics.h"

namespace quarry::metrics {

class ServerMetrics {
 public:
  explicit ServerMetrics(prometheus::Registry& registry);

  void RecordSearch(const SearchResult& result);
  // One call to the reranker (server/search_reranking.h), failed ones included.
  void RecordRerank(absl::Duration latency);
  void RecordIngest(const std::string& collection, int64_t documents, int64_t chunks,
                    int64_t bytes);

  UpstreamMetrics& llm() { return llm_; }
  // For the OpenAI-compatible embedder's client: each /v1/embeddings call is recorded here
  // (pass it to the embedder as its UpstreamCallObserver).
  UpstreamMetrics& embedder() { return embedder_; }

 private:
  prometheus::Family<prometheus::Histogram>& stage_;
  prometheus::Histogram& embed_;
  prometheus::Histogram& dense_;
  prometheus::Histogram& lexical_;
  prometheus::Histogram& fuse_;
  prometheus::Histogram& rerank_;
  prometheus::Family<prometheus::Histogram>& search_;
  prometheus::Family<prometheus::Counter>& ingest_documents_;
  prometheus::Family<prometheus::Counter>& ingest_chunks_;
  prometheus::Family<prometheus::Counter>& ingest_bytes_;
  UpstreamMetrics llm_;
  UpstreamMetrics embedder_;
};

}  // namespace quarry::metrics

#endif  // QUARRY_SERVER_METRICS_SERVER_METRICS_H_
