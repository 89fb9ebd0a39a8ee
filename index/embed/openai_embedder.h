// An embedder backed by an OpenAI-compatible embeddings endpoint (OpenAI, vLLM, Ollama,
// llama.cpp server, TEI, LiteLLM...): POST {base_url}/embeddings with
// {"model", "input": [texts]}, vectors read from data[].embedding in data[].index order.
//
// Texts are sent in batches of at most batch_size. Every vector must have the collection's
// dimension: a model that returns another size is a configuration error
// (FAILED_PRECONDITION naming both sizes), never silently truncated or padded. Retries,
// timeouts, the circuit breaker and error mapping are the shared remote::HttpClient's; one
// client (one breaker, one connection pool) serves every collection using the endpoint. Each
// request (one batch, retries included) is reported to an optional UpstreamCallObserver (the
// server's embedder metrics).
#ifndef QUARRY_INDEX_EMBED_OPENAI_EMBEDDER_H_
#define QUARRY_INDEX_EMBED_OPENAI_EMBEDDER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "index/embed/embedder.h"
#include "index/remote/http_client.h"
#include "index/upstream_call_observer.h"

namespace quarry {

// The embeddings endpoint a server or indexer is configured with.
struct OpenAiEmbeddingsEndpoint {
  // Up to and including the API version, e.g. "http://127.0.0.1:8000/v1". Empty: none.
  std::string base_url;
  // The model for collections that name none.
  std::string model;
  // Most texts in one request.
  int batch_size = 64;
  // Bound on one Embed call, every batch and retry included.
  absl::Duration call_timeout = absl::Seconds(60);
  remote::HttpClientOptions http = remote::HttpClientOptions::Named("embeddings");
};

class OpenAiEmbedder : public Embedder {
 public:
  // `client` is shared by every embedder using the endpoint; `observer` (null: none) is told
  // about each request and must outlive the embedder. INVALID_ARGUMENT for an empty model, a
  // batch size below 1 or a dimension outside 2..8192.
  static absl::StatusOr<std::unique_ptr<OpenAiEmbedder>> Create(
      std::shared_ptr<remote::HttpClient> client, const OpenAiEmbeddingsEndpoint& endpoint,
      std::string model, int dimension, UpstreamCallObserver* observer = nullptr);

  int dimension() const override { return dimension_; }
  absl::StatusOr<std::vector<float>> Embed(absl::Span<const std::string_view> texts) const override;
  // Bounded by the caller's deadline as well as the endpoint's call timeout, whichever comes
  // first, and ends when the caller cancels.
  absl::StatusOr<std::vector<float>> EmbedQuery(
      std::string_view text, absl::FunctionRef<float(std::string_view term)> term_weight,
      const remote::CallControl& caller) const override;

 private:
  OpenAiEmbedder(std::shared_ptr<remote::HttpClient> client, std::string url, std::string model,
                 int dimension, int batch_size, absl::Duration call_timeout,
                 UpstreamCallObserver* observer)
      : client_(std::move(client)),
        url_(std::move(url)),
        model_(std::move(model)),
        dimension_(dimension),
        batch_size_(batch_size),
        call_timeout_(call_timeout),
        observer_(observer) {}

  absl::StatusOr<std::vector<float>> EmbedUnder(absl::Span<const std::string_view> texts,
                                                const remote::CallControl& control) const;
  // Appends the vectors of one batch to `out`; `input_tokens` gets the usage the endpoint
  // reported (0 when it did not).
  absl::Status EmbedBatch(absl::Span<const std::string_view> texts,
                          const remote::CallControl& control, std::vector<float>& out,
                          int64_t& input_tokens) const;

  const std::shared_ptr<remote::HttpClient> client_;
  const std::string url_;
  const std::string model_;
  const int dimension_;
  const int batch_size_;
  const absl::Duration call_timeout_;
  UpstreamCallObserver* const observer_;
};

}  // namespace quarry

#endif  // QUARRY_INDEX_EMBED_OPENAI_EMBEDDER_H_
