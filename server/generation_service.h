// GenerationService: retrieval-augmented answers, streamed with citations.
//
// A Generate call validates the request, retrieves from the collection (top_k 8 unless the
// request says otherwise), packs the best chunks into numbered sources within the context
// budget and writes them (Sources), then streams the answer (AnswerDelta...) and ends with a
// GenerateResult that repeats the answer and the sources and maps its "[n]" markers to them.
// The answer comes from the configured OpenAI-compatible LLM or, with none configured or when
// the request asks for it, from the extractive answerer (the sentences of the sources that
// best answer the question); when retrieval finds nothing, the answer is the extractive
// "I don't know" and the LLM is not called. The caller's deadline and cancellation reach the
// upstream HTTP request. Usage is what the LLM reported (zero for extractive answers and for
// servers that report none).
#ifndef QUARRY_SERVER_GENERATION_SERVICE_H_
#define QUARRY_SERVER_GENERATION_SERVICE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "index/catalog.h"
#include "quarry/v1/quarry.grpc.pb.h"
#include "server/generation/extractive_answerer.h"
#include "server/generation/llm_client.h"
#include "server/search_reranking.h"
#include "server/metrics/server_metrics.h"

namespace quarry::server {

struct GenerationServiceOptions {
  // The LLM; llm.base_url empty (the default) means none: every answer is extractive.
  generation::LlmOptions llm;
  // Models a request may name besides llm.model; "*" allows any.
  std::vector<std::string> allowed_models;
  // Retrieval depth when the request leaves retrieval.top_k at 0.
  int default_top_k = 8;
  // Token budget for the sources when the request leaves generation.context_tokens at 0, and
  // the most a request may ask for.
  int default_context_tokens = 3000;
  int max_context_tokens = 128 << 10;
  // Answer length when the request leaves generation.max_tokens at 0, and the most it may ask.
  int default_max_tokens = 512;
  int max_answer_tokens = 32 << 10;
  int64_t max_question_bytes = 16 << 10;
  int max_history_turns = 64;
  int64_t max_history_bytes = 256 << 10;
  // Sources whose text repeats a packed one by this fraction (word trigrams) are left out.
  double max_source_overlap = 0.5;
  generation::ExtractiveOptions extractive;
};

class GenerationServiceImpl final : public v1::GenerationService::Service {
 public:
  // `catalog` and `reranking` (used when retrieval.rerank asks for it) must outlive the
  // service; `metrics` too, or be null (metrics disabled).
  GenerationServiceImpl(Catalog* catalog, SearchReranking* reranking,
                        GenerationServiceOptions options, metrics::ServerMetrics* metrics);
  ~GenerationServiceImpl() override;

  grpc::Status Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                        grpc::ServerWriter<v1::GenerateResponse>* writer) override;

  // The LLM client's circuit breaker; null without an LLM.
  const remote::CircuitBreaker* llm_breaker() const {
    return llm_ == nullptr ? nullptr : &llm_->breaker();
  }

 private:
  // INVALID_ARGUMENT / FAILED_PRECONDITION for a request that cannot be served as asked.
  absl::Status Validate(const v1::GenerateRequest& request) const;
  bool ModelAllowed(const std::string& model) const;

  Catalog* const catalog_;
  SearchReranking* const reranking_;
  const GenerationServiceOptions options_;
  const generation::ExtractiveAnswerer extractive_;
  std::unique_ptr<generation::LlmClient> llm_;  // null: no LLM configured
  metrics::ServerMetrics* const metrics_;
};

}  // namespace quarry::server

#endif  // QUARRY_SERVER_GENERATION_SERVICE_H_
