#include "index/remote/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "index/remote/http_error.h"

namespace quarry::remote {
namespace {

// How often a running transfer checks for cancellation: the latency of aborting upstream.
constexpr int kPollMilliseconds = 10;
// How finely a backoff sleep checks for cancellation.
constexpr absl::Duration kSleepSlice = absl::Milliseconds(10);
// Error bodies are small; more than this is not worth keeping.
constexpr size_t kMaxErrorBodyBytes = 64 << 10;
constexpr char kIncomplete[] = " (the response is incomplete)";

bool IsCancelled(const CallControl& control) { return control.cancelled && control.cancelled(); }

void GlobalInitOnce() {
  // libcurl's global init is not thread-safe on every build; a function-local static is.
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)init;
}

// Frees a curl_slist when it goes out of scope.
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Headers = std::unique_ptr<curl_slist, SlistDeleter>;

}  // namespace

// An easy handle with the multi handle that drives it. The multi handle owns the connection
// cache, so keeping the pair together is what makes reuse keep connections alive.
class HttpClient::HandlePool {
 public:
  struct Handle {
    CURL* easy = nullptr;
    CURLM* multi = nullptr;
    ~Handle() {
      if (easy != nullptr) curl_easy_cleanup(easy);
      if (multi != nullptr) curl_multi_cleanup(multi);
    }
  };

  explicit HandlePool(size_t max_idle) : max_idle_(max_idle) {}

  // Null only if libcurl cannot allocate.
  std::unique_ptr<Handle> Acquire() {
    {
      absl::MutexLock lock(&mutex_);
      if (!idle_.empty()) {
        std::unique_ptr<Handle> handle = std::move(idle_.back());
        idle_.pop_back();
        curl_easy_reset(handle->easy);  // options go; connections and caches stay
        return handle;
      }
    }
    auto handle = std::make_unique<Handle>();
    handle->easy = curl_easy_init();
    handle->multi = curl_multi_init();
    if (handle->easy == nullptr || handle->multi == nullptr) return nullptr;
    return handle;
  }

  void Release(std::unique_ptr<Handle> handle) {
    absl::MutexLock lock(&mutex_);
    if (idle_.size() < max_idle_) idle_.push_back(std::move(handle));
  }

 private:
  const size_t max_idle_;
  absl::Mutex mutex_;
  std::vector<std::unique_ptr<Handle>> idle_ ABSL_GUARDED_BY(mutex_);
};

// What one HTTP attempt produced, and what it says about retrying and endpoint health.
struct HttpClient::Attempt {
  enum class Health { kHealthy, kUnhealthy, kUnknown };

  absl::StatusOr<HttpResponse> result = absl::UnknownError("not run");
  bool delivered = false;  // part of a streamed body was passed to the caller
  bool retryable = false;
  Health health = Health::kUnknown;
  std::optional<absl::Duration> retry_after;
};

namespace {

// The state of one transfer, shared with libcurl's callbacks.
struct Transfer {
  CURL* easy = nullptr;
  const CallControl* control = nullptr;
  BodyStream* stream = nullptr;
  size_t max_response_bytes = 0;

  bool response_known = false;
  long http_status = 0;
  std::string content_type;
  bool streaming = false;  // the body goes to `stream`
  std::string body;        // an error body, or a response read whole
  bool body_too_large = false;
  std::optional<absl::Duration> retry_after;

  bool success() const { return http_status >= 200 && http_status < 300; }

  void LearnResponse() {
    if (response_known) return;
    response_known = true;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http_status);
    char* type = nullptr;
    curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &type);
    if (type != nullptr) content_type = absl::AsciiStrToLower(type);
    streaming = stream != nullptr && success() && stream->Begin(content_type);
  }
};

size_t OnWrite(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  transfer->LearnResponse();
  const std::string_view piece(data, bytes);
  if (transfer->streaming) return transfer->stream->Feed(piece) ? bytes : 0;
  const bool success = transfer->success();
  const size_t limit = success ? transfer->max_response_bytes : kMaxErrorBodyBytes;
  if (transfer->body.size() + bytes > limit) {
    if (!success) return bytes;  // the start of an error body says enough
    transfer->body_too_large = true;
    return 0;
  }
  transfer->body.append(piece);
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  const absl::string_view line(data, bytes);
  constexpr absl::string_view kRetryAfter = "retry-after:";
  if (line.size() > kRetryAfter.size() &&
      absl::EqualsIgnoreCase(line.substr(0, kRetryAfter.size()), kRetryAfter)) {
    double seconds = 0;
    if (absl::SimpleAtod(absl::StripAsciiWhitespace(line.substr(kRetryAfter.size())), &seconds) &&
        seconds >= 0 && seconds < 3600) {
      transfer->retry_after = absl::Seconds(seconds);
    }
  }
  return bytes;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  return IsCancelled(*transfer->control) ? 1 : 0;
}

bool IsConnectionError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string JoinUrl(std::string base, std::string_view path) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  return absl::StrCat(base, "/", absl::string_view(path.data(), path.size()));
}

HttpClient::HttpClient(HttpClientOptions options)
    : options_(std::move(options)),
      breaker_(options_.breaker),
      pool_(std::make_unique<HandlePool>(
          static_cast<size_t>(std::max(0, options_.max_idle_handles)))) {
  GlobalInitOnce();
}

HttpClient::~HttpClient() = default;

HttpClient::Attempt HttpClient::RunAttempt(const std::string& url, const std::string& body,
                                           const std::string& accept, const CallControl& control,
                                           BodyStream* stream) {
  const std::string& upstream = options_.upstream;
  Attempt attempt;
  std::unique_ptr<HandlePool::Handle> handle = pool_->Acquire();
  if (handle == nullptr) {
    attempt.result = absl::ResourceExhaustedError(
        absl::StrCat("cannot allocate an HTTP handle for the ", upstream, " endpoint"));
    return attempt;
  }
  CURL* easy = handle->easy;

  const absl::Time start = absl::Now();
  const absl::Duration until_deadline = control.deadline - start;
  const bool caller_bound = until_deadline < options_.request_timeout;
  const absl::Duration timeout = std::min(until_deadline, options_.request_timeout);
  if (timeout <= absl::ZeroDuration()) {
    attempt.result = absl::DeadlineExceededError(
        absl::StrCat("deadline passed before calling the ", upstream, " endpoint"));
    pool_->Release(std::move(handle));
    return attempt;
  }

  Transfer transfer;
  transfer.easy = easy;
  transfer.control = &control;
  transfer.stream = stream;
  transfer.max_response_bytes = options_.max_response_bytes;

  Headers headers;
  auto add_header = [&headers](const std::string& header) {
    curl_slist* list = curl_slist_append(headers.get(), header.c_str());
    if (list != nullptr) {
      (void)headers.release();
      headers.reset(list);
    }
  };
  add_header("Content-Type: application/json");
  add_header("Accept: " + accept);
  add_header("Expect:");  // no 100-continue round trip for large bodies
  if (!options_.api_key.empty()) add_header("Authorization: Bearer " + options_.api_key);

  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);  // threads: never use signals for timeouts
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout))));
  curl_easy_setopt(
      easy, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.connect_timeout))));
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);

  // The multi interface lets this thread wake every few milliseconds to check for
  // cancellation, instead of once a second as the progress callback of a stalled transfer.
  CURLM* multi = handle->multi;
  curl_multi_add_handle(multi, easy);
  bool cancelled = false;
  CURLMcode multi_code = CURLM_OK;
  while (true) {
    int running = 0;
    multi_code = curl_multi_perform(multi, &running);
    if (multi_code != CURLM_OK || running == 0) break;
    if (IsCancelled(control)) {
      cancelled = true;
      break;
    }
    multi_code = curl_multi_poll(multi, nullptr, 0, kPollMilliseconds, nullptr);
    if (multi_code != CURLM_OK) break;
  }
  CURLcode code = CURLE_OK;
  bool finished = false;
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
    if (message->msg == CURLMSG_DONE && message->easy_handle == easy) {
      code = message->data.result;
      finished = true;
    }
  }
  // Removing an unfinished transfer closes its connection: the upstream sees the disconnect.
  curl_multi_remove_handle(multi, easy);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr));
  if (finished && code == CURLE_OK) transfer.LearnResponse();  // also for an empty body
  attempt.delivered = stream != nullptr && stream->delivered();
  attempt.retry_after = transfer.retry_after;
  pool_->Release(std::move(handle));

  const char* incomplete = attempt.delivered ? kIncomplete : "";
  const std::string elapsed =
      absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1)));
  if (cancelled || code == CURLE_ABORTED_BY_CALLBACK) {
    attempt.result = absl::CancelledError(
        absl::StrCat("the call was cancelled; the ", upstream, " request was aborted"));
    return attempt;
  }
  if (multi_code != CURLM_OK) {
    attempt.result =
        absl::InternalError(absl::StrCat("libcurl multi error: ", curl_multi_strerror(multi_code)));
    return attempt;
  }
  if (!finished) {
    attempt.result = absl::InternalError("libcurl ended the transfer without a result");
    return attempt;
  }
  if (code == CURLE_OPERATION_TIMEDOUT) {
    attempt.health = caller_bound ? Attempt::Health::kUnknown : Attempt::Health::kUnhealthy;
    attempt.result = absl::DeadlineExceededError(
        absl::StrCat(caller_bound ? "deadline passed" : upstream + " request timed out", " after ",
                     elapsed, " waiting for ", url, incomplete));
    return attempt;
  }
  if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) {
    attempt.result = absl::FailedPreconditionError(absl::StrCat(
        "the ", upstream, " URL is not usable (", url, "): ", curl_easy_strerror(code)));
    return attempt;
  }
  const bool aborted_by_us =
      code == CURLE_WRITE_ERROR && (transfer.streaming || transfer.body_too_large);
  if (code != CURLE_OK && !aborted_by_us) {
    attempt.health = Attempt::Health::kUnhealthy;
    attempt.retryable = !attempt.delivered && IsConnectionError(code);
    const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    attempt.result = absl::UnavailableError(
        absl::StrCat(upstream, " endpoint ", url, " failed: ", detail, incomplete));
    return attempt;
  }
  if (!transfer.success()) {
    attempt.health = transfer.http_status >= 500 || transfer.http_status == 408
                         ? Attempt::Health::kUnhealthy
                         : Attempt::Health::kHealthy;
    attempt.retryable = IsRetryableHttpStatus(transfer.http_status);
    attempt.result = StatusForHttpError(upstream, transfer.http_status, transfer.body);
    return attempt;
  }
  if (transfer.body_too_large) {
    attempt.health = Attempt::Health::kHealthy;
    attempt.result = absl::ResourceExhaustedError(
        absl::StrCat(upstream, " response is larger than ", options_.max_response_bytes, " bytes"));
    return attempt;
  }
  HttpResponse response;
  response.content_type = transfer.content_type;
  if (transfer.streaming) {
    absl::Status finished_stream = stream->Finish();
    attempt.delivered = stream->delivered();
    if (absl::IsCancelled(finished_stream)) {
      attempt.result = finished_stream;
      return attempt;
    }
    if (!finished_stream.ok()) {
      attempt.health = Attempt::Health::kUnhealthy;
      attempt.retryable = !attempt.delivered;
      attempt.result = finished_stream;
      return attempt;
    }
    response.streamed = true;
  } else {
    response.body = std::move(transfer.body);
  }
  attempt.health = Attempt::Health::kHealthy;
  attempt.result = std::move(response);
  return attempt;
}

absl::StatusOr<HttpResponse> HttpClient::PostJson(const std::string& url, const std::string& body,
                                                  const CallControl& control, BodyStream* stream,
                                                  const std::string& accept) {
  absl::BitGen random;
  absl::Duration backoff = options_.initial_backoff;
  absl::Status last_error;
  const int attempts = std::max(1, options_.max_attempts);
  for (int number = 1;; ++number) {
    if (IsCancelled(control)) return absl::CancelledError("the call was cancelled");
    if (absl::Status allowed = breaker_.Allow(); !allowed.ok()) {
      allowed = absl::Status(allowed.code(),
                             absl::StrCat(options_.upstream, " endpoint: ", allowed.message()));
      if (last_error.ok()) return allowed;
      return absl::Status(last_error.code(),
                          absl::StrCat(last_error.message(), "; then ", allowed.message()));
    }
    Attempt attempt = RunAttempt(url, body, accept, control, stream);
    switch (attempt.health) {
      case Attempt::Health::kHealthy:
        breaker_.RecordSuccess();
        break;
      case Attempt::Health::kUnhealthy:
        breaker_.RecordFailure();
        break;
      case Attempt::Health::kUnknown:
        breaker_.RecordAbandoned();
        break;
    }
    if (attempt.result.ok()) return attempt.result;
    last_error = attempt.result.status();
    if (!attempt.retryable || attempt.delivered || number >= attempts) {
      if (number > 1 && attempt.retryable) {
        return absl::Status(last_error.code(),
                            absl::StrCat(last_error.message(), " (after ", number, " attempts)"));
      }
      return last_error;
    }
    // Full jitter over the upper half keeps retries of many callers apart while still backing
    // off; a server's Retry-After is a floor.
    absl::Duration sleep = absl::Uniform(random, 0.5, 1.0) * backoff;
    if (attempt.retry_after.has_value()) sleep = std::max(sleep, *attempt.retry_after);
    backoff = std::min(backoff * 2, options_.max_backoff);
    if (absl::Now() + sleep >= control.deadline) {
      return absl::Status(
          last_error.code(),
          absl::StrCat(last_error.message(), " (not retried: the deadline would pass first)"));
    }
    const absl::Time wake = absl::Now() + sleep;
    while (absl::Now() < wake) {
      if (IsCancelled(control)) return absl::CancelledError("the call was cancelled");
      absl::SleepFor(std::min(kSleepSlice, wake - absl::Now()));
    }
  }
}

}  // namespace quarry::remote
