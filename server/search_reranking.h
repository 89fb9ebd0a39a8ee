// Search's optional reranking step: the fused candidates, fetched deeper than top_k, are
// scored by the configured HTTP reranker (index/search/reranker_client.h) and the best top_k
// kept in its order. Reranking never fails a search: without a reranker, for a vector query,
// or when the reranker fails (down, breaker open, deadline), the fused order is kept and a
// notice says why.
#ifndef QUARRY_SERVER_SEARCH_RERANKING_H_
#define QUARRY_SERVER_SEARCH_RERANKING_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "index/collection.h"
#include "index/search/reranker_client.h"
#include "server/metrics/server_metrics.h"

namespace quarry::server {

struct SearchRerankingOptions {
  RerankerOptions reranker;  // url empty: no reranker
  // Most candidates one request may have reranked.
  int max_candidates = 100;
};

struct RerankOutcome {
  bool reranked = false;
  std::vector<float> scores;  // the reranker's score of each kept hit, when reranked
  std::string notice;         // why the fused order was kept, when not reranked
  double ms = 0;
};

class SearchReranking {
 public:
  // `metrics` (the rerank stage histogram) must outlive this, or be null (metrics disabled).
  SearchReranking(SearchRerankingOptions options, metrics::ServerMetrics* metrics);

  // Searches `collection`; with `rerank`, fetches `candidates` fused hits (0: max(top_k, 50)),
  // has them reranked and keeps the best query.top_k. `outcome` says whether the hits were
  // reranked, or why not. INVALID_ARGUMENT for candidates outside 0..max_candidates; errors of
  // the search itself as Collection::Search returns them.
  // True when a reranker is configured: a search asking for reranking then waits on it.
  bool has_reranker() const { return client_ != nullptr; }

  absl::StatusOr<SearchResult> Search(Collection& collection, SearchQuery query, bool rerank,
                                      int candidates, const remote::CallControl& control,
                                      RerankOutcome& outcome);

 private:
  absl::StatusOr<int> CandidateDepth(int requested, int top_k) const;
  // Reorders `hits` by the reranker's relevance to `query_text` and keeps the best `top_k`;
  // on any failure keeps the first `top_k` in fused order.
  RerankOutcome Rerank(std::string_view query_text, int top_k, const remote::CallControl& control,
                       std::vector<Hit>& hits);

  const SearchRerankingOptions options_;
  std::unique_ptr<RerankerClient> client_;  // null: none configured
  metrics::ServerMetrics* const metrics_;
};

}  // namespace quarry::server

#endif  // QUARRY_SERVER_SEARCH_RERANKING_H_
