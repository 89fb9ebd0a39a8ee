// A client for OpenAI-compatible chat-completion endpoints (OpenAI, vLLM, llama.cpp server,
// Ollama, LiteLLM...): POST {base_url}/chat/completions, streamed as server-sent events or not.
//
// The HTTP robustness (deadline and cancellation, retries with backoff and jitter before the
// first token only, the circuit breaker, errors mapped to absl codes with what the upstream
// said, connection reuse) is index/remote/http_client.h, shared with the embeddings and
// reranker clients; this file adds the chat wire format and the streaming of answer text.
// Thread-safe.
#ifndef QUARRY_SERVER_GENERATION_LLM_CLIENT_H_
#define QUARRY_SERVER_GENERATION_LLM_CLIENT_H_

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "index/remote/http_client.h"
#include "server/generation/chat.h"

namespace quarry::generation {

struct LlmOptions {
  // Up to and including the API version, e.g. "http://127.0.0.1:8000/v1". Empty: no LLM.
  std::string base_url;
  // The model used when a request names none.
  std::string model;
  // Stream with server-sent events; false for servers that cannot (the answer then arrives
  // as one piece).
  bool stream = true;
  // API key, timeouts, retries, breaker, connection pool.
  remote::HttpClientOptions http = remote::HttpClientOptions::Named("LLM");
};

using CallControl = remote::CallControl;

// Receives each piece of answer text as it arrives; returns false to abort the call (the
// receiver has gone away).
using DeltaCallback = std::function<bool(std::string_view text)>;

class LlmClient {
 public:
  explicit LlmClient(LlmOptions options);

  // Runs a chat completion, passing text to `on_delta` as it arrives; returns the whole
  // completion. `request.model` empty means options().model.
  absl::StatusOr<ChatCompletion> Complete(const ChatRequest& request, const CallControl& control,
                                          const DeltaCallback& on_delta);

  const LlmOptions& options() const { return options_; }
  remote::CircuitBreaker& breaker() { return http_.breaker(); }

 private:
  const LlmOptions options_;
  const std::string url_;
  remote::HttpClient http_;
};

}  // namespace quarry::generation

#endif  // QUARRY_SERVER_GENERATION_LLM_CLIENT_H_
