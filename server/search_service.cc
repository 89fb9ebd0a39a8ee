#include "server/search_service.h"

#include "server/call_control.h"
#include "server/proto_convert.h"
#include "server/status_convert.h"

namespace quarry::server {

absl::StatusOr<SearchQuery> SearchQueryFromProto(const v1::SearchRequest& request) {
  SearchQuery query;
  switch (request.query_case()) {
    case v1::SearchRequest::kText:
      if (request.text().empty()) return absl::InvalidArgumentError("query text is empty");
      query.text = request.text();
      break;
    case v1::SearchRequest::kVector:
      if (request.vector().values().empty()) {
        return absl::InvalidArgumentError("query vector is empty");
      }
      query.vector.assign(request.vector().values().begin(), request.vector().values().end());
      break;
    case v1::SearchRequest::QUERY_NOT_SET:
      return absl::InvalidArgumentError("query: set text or vector");
  }
  if (absl::Status status = ApplyRetrievalOptions(request.options(), query); !status.ok()) {
    return status;
  }
  return query;
}

bool SearchServiceImpl::WaitsOnRemote(const v1::SearchRequest& request) const {
  if (request.options().rerank() && reranking_->has_reranker()) return true;
  if (request.query_case() != v1::SearchRequest::kText) return false;
  absl::StatusOr<std::shared_ptr<Collection>> collection = catalog_->Get(request.collection());
  return collection.ok() && (*collection)->config().embedder == EmbedderKind::kOpenAi;
}

grpc::Status SearchServiceImpl::Search(grpc::ServerContext* context,
                                       const v1::SearchRequest* request,
                                       v1::SearchResponse* response) {
  absl::StatusOr<std::shared_ptr<Collection>> collection = catalog_->Get(request->collection());
  if (!collection.ok()) return ToGrpcStatus(collection.status());
  absl::StatusOr<SearchQuery> query = SearchQueryFromProto(*request);
  if (!query.ok()) return ToGrpcStatus(query.status());
  query->caller = CallControlFor(context);
  RerankOutcome reranked;
  absl::StatusOr<SearchResult> result =
      reranking_->Search(**collection, *std::move(query), request->options().rerank(),
                         request->options().rerank_candidates(), CallControlFor(context), reranked);
  if (!result.ok()) return ToGrpcStatus(result.status());
  if (metrics_ != nullptr) metrics_->RecordSearch(*result);
  if (request->options().rerank()) {
    response->set_reranked(reranked.reranked);
    if (!reranked.notice.empty()) response->add_notices(reranked.notice);
  }
  for (size_t i = 0; i < result->hits.size(); ++i) {
    v1::SearchHit& hit = *response->add_hits();
    HitToProto(result->hits[i], !request->omit_text(), hit);
    if (i < reranked.scores.size()) hit.set_rerank_score(reranked.scores[i]);
  }
  response->set_mode(SearchModeToProto(result->mode));
  v1::SearchTimings& timings = *response->mutable_timings();
  timings.set_embed_ms(result->timings.embed_ms);
  timings.set_dense_ms(result->timings.dense_ms);
  timings.set_lexical_ms(result->timings.lexical_ms);
  timings.set_fuse_ms(result->timings.fuse_ms);
  timings.set_rerank_ms(reranked.ms);
  timings.set_total_ms(result->timings.total_ms);
  return grpc::Status::OK;
}

}  // namespace quarry::server
