#include "index/remote/circuit_breaker.h"

#include "absl/strings/str_cat.h"

namespace quarry::remote {

absl::Status CircuitBreaker::Allow() {
  absl::MutexLock lock(&mutex_);
  if (!open_) return absl::OkStatus();
  const absl::Time now = now_();
  if (now < open_until_) {
    return absl::UnavailableError(
        absl::StrCat("circuit breaker open after ", consecutive_failures_,
                     " consecutive failures of the upstream endpoint; next attempt in ",
                     absl::FormatDuration(absl::Ceil(open_until_ - now, absl::Milliseconds(1)))));
  }
  if (trial_in_flight_) {
    return absl::UnavailableError(
        "circuit breaker half-open: a trial call to the upstream endpoint is in flight");
  }
  trial_in_flight_ = true;
  return absl::OkStatus();
}

void CircuitBreaker::RecordSuccess() {
  absl::MutexLock lock(&mutex_);
  consecutive_failures_ = 0;
  open_ = false;
  trial_in_flight_ = false;
}

void CircuitBreaker::RecordFailure() {
  absl::MutexLock lock(&mutex_);
  ++consecutive_failures_;
  const bool trial_failed = open_ && trial_in_flight_;
  trial_in_flight_ = false;
  if (trial_failed ||
      (options_.failure_threshold > 0 && consecutive_failures_ >= options_.failure_threshold)) {
    open_ = true;
    open_until_ = now_() + options_.cool_down;
  }
}

void CircuitBreaker::RecordAbandoned() {
  absl::MutexLock lock(&mutex_);
  trial_in_flight_ = false;
}

CircuitBreaker::State CircuitBreaker::state() const {
  absl::MutexLock lock(&mutex_);
  if (!open_) return State::kClosed;
  return now_() < open_until_ ? State::kOpen : State::kHalfOpen;
}

}  // namespace quarry::remote
