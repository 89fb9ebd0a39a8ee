// A circuit breaker for an upstream endpoint: after `failure_threshold` consecutive failures it
// opens and refuses calls for `cool_down`, so a dead endpoint is not hammered and callers fail
// fast. Then it lets one trial call through (half-open): success closes it, failure opens it
// for another cool-down. Thread-safe.
#ifndef QUARRY_INDEX_REMOTE_CIRCUIT_BREAKER_H_
#define QUARRY_INDEX_REMOTE_CIRCUIT_BREAKER_H_

#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace quarry::remote {

struct CircuitBreakerOptions {
  int failure_threshold = 5;  // <= 0: never opens
  absl::Duration cool_down = absl::Seconds(10);
};

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  // `now` is injectable for tests.
  explicit CircuitBreaker(
      CircuitBreakerOptions options, std::function<absl::Time()> now = [] { return absl::Now(); })
      : options_(options), now_(std::move(now)) {}

  // OK if a call may go ahead; UNAVAILABLE, saying when the next attempt is allowed, if not.
  // An OK answer in the half-open state reserves the single trial call: the caller must
  // report its outcome with exactly one of the Record calls.
  absl::Status Allow();
  // The endpoint answered (even with a client error such as 400: it is alive).
  void RecordSuccess();
  // The endpoint is down or failing (connection error, 5xx, timeout).
  void RecordFailure();
  // The call ended without saying anything about the endpoint (the caller cancelled it):
  // frees a half-open trial slot and changes nothing else.
  void RecordAbandoned();

  State state() const;

 private:
  const CircuitBreakerOptions options_;
  const std::function<absl::Time()> now_;
  mutable absl::Mutex mutex_;
  int consecutive_failures_ ABSL_GUARDED_BY(mutex_) = 0;
  bool open_ ABSL_GUARDED_BY(mutex_) = false;
  bool trial_in_flight_ ABSL_GUARDED_BY(mutex_) = false;
  absl::Time open_until_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace quarry::remote

#endif  // QUARRY_INDEX_REMOTE_CIRCUIT_BREAKER_H_
