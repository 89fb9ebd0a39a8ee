// A client for HTTP rerankers in the common /rerank format served by TEI, Jina, Cohere and
// vLLM: POST {url} with {"model", "query", "documents": [texts], "top_n"}; the answer is
// {"results": [{"index", "relevance_score"}]} (Cohere, Jina, vLLM) or TEI's bare list
// [{"index", "score"}]. Timeouts, retries, the circuit breaker and error mapping are the
// shared remote::HttpClient's, as for the LLM and embeddings clients. Thread-safe.
#ifndef QUARRY_INDEX_SEARCH_RERANKER_CLIENT_H_
#define QUARRY_INDEX_SEARCH_RERANKER_CLIENT_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "index/remote/http_client.h"

namespace quarry {

struct RerankerOptions {
  // The whole endpoint URL, e.g. "http://127.0.0.1:8080/rerank" (TEI) or
  // "http://127.0.0.1:8000/v1/rerank" (vLLM, Jina, Cohere). Empty: no reranker.
  std::string url;
  // Sent as "model" when not empty (TEI serves one model and ignores it).
  std::string model;
  remote::HttpClientOptions http = remote::HttpClientOptions::Named("reranker");
};

struct RerankedDocument {
  size_t index = 0;  // into the documents passed in
  float score = 0;   // higher is more relevant
};

class RerankerClient {
 public:
  explicit RerankerClient(RerankerOptions options);

  // The best `top_n` documents for `query`, best first. INTERNAL when the answer is not in
  // either format or names a document that was not sent.
  absl::StatusOr<std::vector<RerankedDocument>> Rerank(std::string_view query,
                                                       absl::Span<const std::string> documents,
                                                       size_t top_n,
                                                       const remote::CallControl& control);

 private:
  const RerankerOptions options_;
  remote::HttpClient http_;
};

}  // namespace quarry

#endif  // QUARRY_INDEX_SEARCH_RERANKER_CLIENT_H_
