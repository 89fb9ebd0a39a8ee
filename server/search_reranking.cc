#include "server/search_reranking.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace quarry::server {
namespace {

constexpr int kDefaultCandidates = 50;

void KeepFirst(int top_k, std::vector<Hit>& hits) {
  if (hits.size() > static_cast<size_t>(top_k)) hits.resize(static_cast<size_t>(top_k));
}

}  // namespace

SearchReranking::SearchReranking(SearchRerankingOptions options, metrics::ServerMetrics* metrics)
    : options_(std::move(options)), metrics_(metrics) {
  if (!options_.reranker.url.empty()) {
    client_ = std::make_unique<RerankerClient>(options_.reranker);
  }
}

absl::StatusOr<int> SearchReranking::CandidateDepth(int requested, int top_k) const {
  if (requested < 0 || requested > options_.max_candidates) {
    return absl::InvalidArgumentError(absl::StrCat("options.rerank_candidates must be in 0..",
                                                   options_.max_candidates, ", got ", requested));
  }
  if (client_ == nullptr) return top_k;  // nothing to rerank with: fetch no more than needed
  const int depth =
      requested > 0 ? requested : std::min(kDefaultCandidates, options_.max_candidates);
  return std::max(depth, top_k);
}

absl::StatusOr<SearchResult> SearchReranking::Search(Collection& collection, SearchQuery query,
                                                     bool rerank, int candidates,
                                                     const remote::CallControl& control,
                                                     RerankOutcome& outcome) {
  outcome = RerankOutcome();
  if (!rerank) return collection.Search(query);
  const int top_k = query.top_k;
  absl::StatusOr<int> depth = CandidateDepth(candidates, top_k);
  if (!depth.ok()) return depth.status();
  query.top_k = *depth;
  absl::StatusOr<SearchResult> result = collection.Search(query);
  if (!result.ok()) return result.status();
  outcome = Rerank(query.text, top_k, control, result->hits);
  result->timings.total_ms += outcome.ms;
  return result;
}

RerankOutcome SearchReranking::Rerank(std::string_view query_text, int top_k,
                                      const remote::CallControl& control, std::vector<Hit>& hits) {
  RerankOutcome outcome;
  if (client_ == nullptr) {
    outcome.notice = "no reranker is configured on this server: fused order kept";
  } else if (query_text.empty()) {
    outcome.notice = "reranking needs a text query: fused order kept";
  }
  if (!outcome.notice.empty() || hits.empty()) {
    KeepFirst(top_k, hits);
    return outcome;
  }
  const absl::Time start = absl::Now();
  std::vector<std::string> documents;
  documents.reserve(hits.size());
  for (const Hit& hit : hits) {
    documents.push_back(hit.title.empty() ? hit.text : absl::StrCat(hit.title, "\n", hit.text));
  }
  absl::StatusOr<std::vector<RerankedDocument>> ranked =
      client_->Rerank(query_text, documents, static_cast<size_t>(top_k), control);
  const absl::Duration latency = absl::Now() - start;
  outcome.ms = absl::ToDoubleMilliseconds(latency);
  if (metrics_ != nullptr) metrics_->RecordRerank(latency);
  if (!ranked.ok()) {
    outcome.notice =
        absl::StrCat("reranker failed (", ranked.status().ToString(), "): fused order kept");
    KeepFirst(top_k, hits);
    return outcome;
  }
  std::vector<Hit> reordered;
  reordered.reserve(ranked->size());
  for (const RerankedDocument& document : *ranked) {
    Hit hit = std::move(hits[document.index]);
    hit.score = document.score;
    outcome.scores.push_back(document.score);
    reordered.push_back(std::move(hit));
  }
  hits = std::move(reordered);
  outcome.reranked = true;
  return outcome;
}

}  // namespace quarry::server
