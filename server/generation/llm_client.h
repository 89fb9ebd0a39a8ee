// A client for OpenAI-compatible chat-completion endpoints (OpenAI, vLLM, llama.cpp server,
// Ollama, LiteLLM...): POST {base_url}/chat/completions, streamed as server-sent events or not.
//
// Robustness, in the order a call meets it:
//   - a circuit breaker refuses calls at once while the endpoint is known to be down;
//   - each attempt is bounded by the caller's deadline and by request_timeout, whichever comes
//     first (CURLOPT_TIMEOUT_MS), and polls the caller's cancel callback every few
//     milliseconds: a cancelled call drops the HTTP connection at once, so the upstream server
//     stops generating;
//   - attempts that fail with 408/429/5xx or a connection error are retried with exponential
//     backoff and full jitter (honouring Retry-After), but only while no text has been passed
//     on: after the first token a retry would repeat text the caller already has;
//   - errors become absl statuses with what the upstream said: 429 RESOURCE_EXHAUSTED, 5xx and
//     connection errors UNAVAILABLE, timeouts DEADLINE_EXCEEDED, bad requests
//     INVALID_ARGUMENT, configuration errors (bad key, unknown model) FAILED_PRECONDITION, a
//     cancelled call CANCELLED.
// Connections are reused through a pool of curl handles. Thread-safe.
#ifndef QUARRY_SERVER_GENERATION_LLM_CLIENT_H_
#define QUARRY_SERVER_GENERATION_LLM_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/generation/chat.h"
#include "server/generation/circuit_breaker.h"

namespace quarry::generation {

struct LlmOptions {
  // Up to and including the API version, e.g. "http://127.0.0.1:8000/v1". Empty: no LLM.
  std::string base_url;
  // Sent as "Authorization: Bearer <api_key>" when not empty.
  std::string api_key;
  // The model used when a request names none.
  std::string model;
  // Stream with server-sent events; false for servers that cannot (the answer then arrives
  // as one piece).
  bool stream = true;
  // Bound on one attempt even when the caller set no deadline.
  absl::Duration request_timeout = absl::Seconds(120);
  absl::Duration connect_timeout = absl::Seconds(5);
  // Attempts per call, the first included.
  int max_attempts = 3;
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(5);
  CircuitBreakerOptions breaker;
  // Idle curl handles (and so kept-alive connections) kept for reuse.
  int max_idle_handles = 16;
  // Largest non-streamed response body or error body read.
  size_t max_response_bytes = 8 << 20;
};

struct CallControl {
  absl::Time deadline = absl::InfiniteFuture();
  // Polled every few milliseconds during the call; true aborts it (null: never cancelled).
  std::function<bool()> cancelled;
};

// Receives each piece of answer text as it arrives; returns false to abort the call (the
// receiver has gone away).
using DeltaCallback = std::function<bool(std::string_view text)>;

class LlmClient {
 public:
  explicit LlmClient(LlmOptions options);
  ~LlmClient();
  LlmClient(const LlmClient&) = delete;
  LlmClient& operator=(const LlmClient&) = delete;

  // Runs a chat completion, passing text to `on_delta` as it arrives; returns the whole
  // completion. `request.model` empty means options().model.
  absl::StatusOr<ChatCompletion> Complete(const ChatRequest& request, const CallControl& control,
                                          const DeltaCallback& on_delta);

  const LlmOptions& options() const { return options_; }
  CircuitBreaker& breaker() { return breaker_; }

 private:
  class HandlePool;
  struct Attempt;

  Attempt RunAttempt(const std::string& body, const CallControl& control,
                     const DeltaCallback& on_delta);

  const LlmOptions options_;
  const std::string url_;
  CircuitBreaker breaker_;
  std::unique_ptr<HandlePool> pool_;
};

}  // namespace quarry::generation

#endif  // QUARRY_SERVER_GENERATION_LLM_CLIENT_H_
