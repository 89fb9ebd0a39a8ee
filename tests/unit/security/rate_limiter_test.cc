// RateLimiter on a fake clock: bursts, refill, and independent clients.
#include "server/security/rate_limiter.h"

#include <catch2/catch.hpp>
#include <string>

namespace quarry::security {
namespace {

struct FakeClock {
  absl::Time now = absl::FromUnixSeconds(1'000'000);
};

TEST_CASE("a bucket allows its burst, then refills at qps") {
  FakeClock clock;
  RateLimiter limiter(/*qps=*/2, /*burst=*/3, [&] { return clock.now; });
  CHECK(limiter.TryAcquire("a"));
  CHECK(limiter.TryAcquire("a"));
  CHECK(limiter.TryAcquire("a"));
  CHECK_FALSE(limiter.TryAcquire("a"));
  clock.now += absl::Milliseconds(250);  // half a token
  CHECK_FALSE(limiter.TryAcquire("a"));
  clock.now += absl::Milliseconds(250);  // a whole one
  CHECK(limiter.TryAcquire("a"));
  CHECK_FALSE(limiter.TryAcquire("a"));
  clock.now += absl::Hours(1);  // refills to the burst, no more
  CHECK(limiter.TryAcquire("a"));
  CHECK(limiter.TryAcquire("a"));
  CHECK(limiter.TryAcquire("a"));
  CHECK_FALSE(limiter.TryAcquire("a"));
}

TEST_CASE("clients have their own buckets") {
  FakeClock clock;
  RateLimiter limiter(/*qps=*/1, /*burst=*/1, [&] { return clock.now; });
  CHECK(limiter.TryAcquire("a"));
  CHECK_FALSE(limiter.TryAcquire("a"));
  CHECK(limiter.TryAcquire("b"));
  CHECK_FALSE(limiter.TryAcquire("b"));
}

TEST_CASE("forgetting full buckets changes no decision") {
  FakeClock clock;
  RateLimiter limiter(/*qps=*/1, /*burst=*/1, [&] { return clock.now; });
  CHECK(limiter.TryAcquire("busy"));
  // Enough new clients to trigger sweeps; "busy" is empty, so it must stay remembered.
  for (int i = 0; i < 5000; ++i) CHECK(limiter.TryAcquire("client-" + std::to_string(i)));
  CHECK_FALSE(limiter.TryAcquire("busy"));
  clock.now += absl::Seconds(1);
  CHECK(limiter.TryAcquire("busy"));
  CHECK(limiter.TryAcquire("client-0"));
}

}  // namespace
}  // namespace quarry::security
