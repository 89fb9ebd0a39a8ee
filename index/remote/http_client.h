// The HTTP plumbing shared by Quarry's clients of upstream model services (the LLM, the
// embeddings endpoint, the reranker): one JSON POST, made robust. libcurl; no gRPC.
//
// Robustness, in the order a call meets it:
//   - a circuit breaker refuses calls at once while the endpoint is known to be down;
//   - each attempt is bounded by the caller's deadline and by request_timeout, whichever comes
//     first, and polls the caller's cancel callback every few milliseconds: a cancelled call
//     drops the HTTP connection at once, so the upstream server stops working on it;
//   - attempts that fail with 408/429/5xx or a connection error are retried with exponential
//     backoff and full jitter (honouring Retry-After), but only while nothing has been passed
//     on to the caller (a streamed body that was partly delivered is never repeated);
//   - errors become absl statuses with what the upstream said: 429 RESOURCE_EXHAUSTED, 5xx and
//     connection errors UNAVAILABLE, timeouts DEADLINE_EXCEEDED, bad requests
//     INVALID_ARGUMENT, configuration errors (bad key, unknown model) FAILED_PRECONDITION, a
//     cancelled call CANCELLED (see http_error.h).
// Connections are reused through a pool of curl handles. Thread-safe.
#ifndef QUARRY_INDEX_REMOTE_HTTP_CLIENT_H_
#define QUARRY_INDEX_REMOTE_HTTP_CLIENT_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "index/remote/call_control.h"
#include "index/remote/circuit_breaker.h"

namespace quarry::remote {

struct HttpClientOptions {
  // Names the upstream in error messages: "LLM", "embeddings", "reranker".
  std::string upstream = "upstream";
  // Sent as "Authorization: Bearer <api_key>" when not empty.
  std::string api_key;
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
  // Largest response body read whole.
  size_t max_response_bytes = 8 << 20;

  // The defaults, for the upstream called `name`.
  static HttpClientOptions Named(std::string name) {
    HttpClientOptions options;
    options.upstream = std::move(name);
    return options;
  }
};

// Takes a successful response's body as it arrives instead of having it collected (for
// server-sent events). One stream serves every attempt of a call.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // An attempt's 2xx response begins. True: its body goes to Feed (the stream forgets what an
  // earlier attempt left); false: it is collected into HttpResponse::body.
  virtual bool Begin(std::string_view content_type) = 0;
  // A piece of the body; false aborts the transfer (Finish then says why).
  virtual bool Feed(std::string_view piece) = 0;
  // The body ended, whole or aborted by Feed. OK: the attempt succeeded. CANCELLED: the
  // receiver went away (not retried). Any other error: the endpoint misbehaved (retried while
  // nothing was delivered).
  virtual absl::Status Finish() = 0;
  // Something was passed on to the caller: the call is never repeated from then on.
  virtual bool delivered() const = 0;
};

struct HttpResponse {
  std::string content_type;
  std::string body;       // empty when the body went to a BodyStream
  bool streamed = false;  // the body went to the BodyStream
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs the JSON `body` to `url` and returns the 2xx response. With `stream`, a response
  // the stream accepts is passed to it as it arrives.
  absl::StatusOr<HttpResponse> PostJson(const std::string& url, const std::string& body,
                                        const CallControl& control, BodyStream* stream = nullptr,
                                        const std::string& accept = "application/json");

  const HttpClientOptions& options() const { return options_; }
  CircuitBreaker& breaker() { return breaker_; }

 private:
  class HandlePool;
  struct Attempt;

  Attempt RunAttempt(const std::string& url, const std::string& body, const std::string& accept,
                     const CallControl& control, BodyStream* stream);

  const HttpClientOptions options_;
  CircuitBreaker breaker_;
  std::unique_ptr<HandlePool> pool_;
};

// "base" + "/" + "path" with the slashes between them collapsed to one.
std::string JoinUrl(std::string base, std::string_view path);

}  // namespace quarry::remote

#endif  // QUARRY_INDEX_REMOTE_HTTP_CLIENT_H_
