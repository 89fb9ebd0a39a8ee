#include "server/security/rate_limiter.h"

#include <algorithm>
#include <utility>

namespace quarry::security {

RateLimiter::RateLimiter(double qps, double burst, std::function<absl::Time()> now)
    : qps_(qps), burst_(burst), now_(std::move(now)) {}

double RateLimiter::Refilled(const Bucket& bucket, absl::Time now) const {
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - bucket.updated));
  return std::min(burst_, bucket.tokens + elapsed * qps_);
}

bool RateLimiter::TryAcquire(absl::string_view client) {
  const absl::Time now = now_();
  absl::MutexLock lock(&mutex_);
  auto [it, inserted] = buckets_.try_emplace(client, Bucket{burst_, now});
  Bucket& bucket = it->second;
  bucket.tokens = Refilled(bucket, now);
  bucket.updated = now;
  const bool granted = bucket.tokens >= 1.0;
  if (granted) bucket.tokens -= 1.0;
  if (inserted && buckets_.size() >= next_sweep_size_) ForgetFullBuckets(now);
  return granted;
}

void RateLimiter::ForgetFullBuckets(absl::Time now) {
  // A full bucket is the same as no bucket: dropping it changes no decision.
  absl::erase_if(buckets_,
                 [&](const auto& entry) { return Refilled(entry.second, now) >= burst_; });
  // Sweep again when the map has doubled, so sweeping costs O(1) per request amortised.
  next_sweep_size_ = std::max<size_t>(1024, 2 * buckets_.size());
}

}  // namespace quarry::security
