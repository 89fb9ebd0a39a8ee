// Per-client request rate limits: one token bucket per client (an API key's name, or the
// caller's IP address when keys are off). A bucket holds up to `burst` tokens, refills at `qps`
// tokens a second, and each request takes one; a request finding it empty is refused.
// Buckets that have refilled completely are forgotten, so memory stays bounded by the clients
// active in the last burst/qps seconds.
#ifndef QUARRY_SERVER_SECURITY_RATE_LIMITER_H_
#define QUARRY_SERVER_SECURITY_RATE_LIMITER_H_

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace quarry::security {

class RateLimiter {
 public:
  // qps > 0, burst >= 1. `now` is injectable for tests.
  RateLimiter(double qps, double burst, std::function<absl::Time()> now = absl::Now);

  // Takes a token from `client`'s bucket; false when it is empty.
  bool TryAcquire(absl::string_view client);

  double qps() const { return qps_; }
  double burst() const { return burst_; }

 private:
  struct Bucket {
    double tokens;
    absl::Time updated;
  };
  double Refilled(const Bucket& bucket, absl::Time now) const;
  void ForgetFullBuckets(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const double qps_;
  const double burst_;
  const std::function<absl::Time()> now_;
  absl::Mutex mutex_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mutex_);
  size_t next_sweep_size_ ABSL_GUARDED_BY(mutex_) = 1024;
};

}  // namespace quarry::security

#endif  // QUARRY_SERVER_SECURITY_RATE_LIMITER_H_
