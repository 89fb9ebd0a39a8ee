// SearchService: hybrid dense + lexical search over a collection.
#ifndef QUARRY_SERVER_SEARCH_SERVICE_H_
#define QUARRY_SERVER_SEARCH_SERVICE_H_

#include "index/catalog.h"
#include "quarry/v1/quarry.grpc.pb.h"
#include "server/search_reranking.h"
#include "server/metrics/server_metrics.h"

namespace quarry::server {

class SearchServiceImpl final : public v1::SearchService::Service {
 public:
  // `reranking` is used for requests that ask for it; both must outlive the service. `metrics`
  // may be null (metrics disabled).
  SearchServiceImpl(Catalog* catalog, SearchReranking* reranking,
                    metrics::ServerMetrics* metrics)
      : catalog_(catalog), reranking_(reranking), metrics_(metrics) {}

  grpc::Status Search(grpc::ServerContext* context, const v1::SearchRequest* request,
                      v1::SearchResponse* response) override;

  // True when answering `request` may wait on a remote model: the reranker (asked for, and one
  // is configured) or the OpenAI-compatible embedder of a text query's collection.
  bool WaitsOnRemote(const v1::SearchRequest& request) const;

 private:
  Catalog* catalog_;
  SearchReranking* reranking_;
  metrics::ServerMetrics* metrics_;
};

// The core query a SearchRequest asks for (shared with Generate's retrieval step).
absl::StatusOr<SearchQuery> SearchQueryFromProto(const v1::SearchRequest& request);

}  // namespace quarry::server

#endif  // QUARRY_SERVER_SEARCH_SERVICE_H_
