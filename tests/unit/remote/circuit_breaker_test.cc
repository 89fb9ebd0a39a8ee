#include "index/remote/circuit_breaker.h"

#include <catch2/catch.hpp>
#include <string>

namespace quarry::remote {
namespace {

TEST_CASE("The breaker opens after N consecutive failures and recovers", "[breaker]") {
  absl::Time now = absl::UnixEpoch();
  CircuitBreaker breaker({.failure_threshold = 3, .cool_down = absl::Seconds(10)},
                         [&now] { return now; });
  for (int i = 0; i < 2; ++i) {
    REQUIRE(breaker.Allow().ok());
    breaker.RecordFailure();
  }
  // A success in between resets the count.
  REQUIRE(breaker.Allow().ok());
  breaker.RecordSuccess();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(breaker.Allow().ok());
    breaker.RecordFailure();
  }
  CHECK(breaker.state() == CircuitBreaker::State::kOpen);
  const absl::Status refused = breaker.Allow();
  CHECK(refused.code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(refused.message()).find("10s") != std::string::npos);

  now += absl::Seconds(10);
  CHECK(breaker.state() == CircuitBreaker::State::kHalfOpen);
  REQUIRE(breaker.Allow().ok());                                    // the one trial call
  CHECK(breaker.Allow().code() == absl::StatusCode::kUnavailable);  // no second one
  breaker.RecordFailure();                                          // the trial failed: open again
  CHECK(breaker.state() == CircuitBreaker::State::kOpen);
  CHECK_FALSE(breaker.Allow().ok());

  now += absl::Seconds(10);
  REQUIRE(breaker.Allow().ok());
  breaker.RecordSuccess();
  CHECK(breaker.state() == CircuitBreaker::State::kClosed);
  CHECK(breaker.Allow().ok());
  breaker.RecordFailure();
  CHECK(breaker.state() == CircuitBreaker::State::kClosed);  // one failure is not N
}

TEST_CASE("An abandoned trial frees the half-open slot", "[breaker]") {
  absl::Time now = absl::UnixEpoch();
  CircuitBreaker breaker({.failure_threshold = 1, .cool_down = absl::Seconds(1)},
                         [&now] { return now; });
  REQUIRE(breaker.Allow().ok());
  breaker.RecordFailure();
  now += absl::Seconds(1);
  REQUIRE(breaker.Allow().ok());
  breaker.RecordAbandoned();
  CHECK(breaker.Allow().ok());
}

TEST_CASE("A zero threshold never opens", "[breaker]") {
  CircuitBreaker breaker({.failure_threshold = 0, .cool_down = absl::Seconds(1)});
  for (int i = 0; i < 100; ++i) breaker.RecordFailure();
  CHECK(breaker.Allow().ok());
}

}  // namespace
}  // namespace quarry::remote
