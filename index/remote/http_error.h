// What an upstream HTTP service (LLM, embeddings, reranker) said when it failed, as an
// absl::Status a caller can act on. Shared by every client of index/remote so that the same
// HTTP answer maps to the same code whichever service gave it. Never throws.
#ifndef QUARRY_INDEX_REMOTE_HTTP_ERROR_H_
#define QUARRY_INDEX_REMOTE_HTTP_ERROR_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace quarry::remote {

// Upstream text quoted in an error message, cut to a few hundred bytes on a UTF-8 boundary.
std::string QuoteUpstream(std::string_view text);

// The message of an error body: {"error": {"message": ...}}, {"error": "..."}, {"detail": ...}
// or {"message": ...}; else the body itself, cut short. Empty for an empty body.
std::string UpstreamErrorMessage(std::string_view body);

// The status for an HTTP error response of the upstream called `upstream` ("LLM",
// "embeddings"...), with what it said:
//   429 -> RESOURCE_EXHAUSTED; 5xx, 408 -> UNAVAILABLE; 400, 413, 422 -> INVALID_ARGUMENT;
//   401, 403, 404 and other 4xx -> FAILED_PRECONDITION (the server's configuration of the
//   upstream is wrong: bad key, unknown model or URL; nothing the caller can fix by retrying).
absl::Status StatusForHttpError(std::string_view upstream, long http_status, std::string_view body);

// INTERNAL for a 2xx response whose body is not what the API promises, saying `what` is wrong
// and quoting the body.
absl::Status UnusableResponse(std::string_view upstream, std::string_view what,
                              std::string_view body);

// True for the HTTP statuses worth retrying: 408, 429 and 5xx.
bool IsRetryableHttpStatus(long http_status);

}  // namespace quarry::remote

#endif  // QUARRY_INDEX_REMOTE_HTTP_ERROR_H_
