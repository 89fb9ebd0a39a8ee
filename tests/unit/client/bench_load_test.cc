#include "client/bench_load.h"

#include <grpcpp/alarm.h>

#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <vector>

#include "absl/time/clock.h"

namespace quarry::bench {
namespace {

TEST_CASE("LatencySummary quantiles use the nearest rank") {
  LatencySummary summary;
  for (int i = 100; i >= 1; --i) summary.Add(i);
  CHECK(summary.count() == 100);
  CHECK(summary.Quantile(0.5) == 50);
  CHECK(summary.Quantile(0.99) == 99);
  CHECK(summary.Quantile(0.999) == 100);
  CHECK(summary.Quantile(0) == 1);
  CHECK(summary.Mean() == Approx(50.5));
  LatencySummary other;
  other.Add(1000);
  summary.Merge(other);
  CHECK(summary.Quantile(1) == 1000);
  CHECK(LatencySummary().Quantile(0.5) == 0);
}

// A call that completes through the queue after `delay`, as an RPC would, and records how
// many calls were in flight when it started.
class AlarmCall : public PendingCall {
 public:
  AlarmCall(absl::Duration delay, int* in_flight, int* most_in_flight, bool fail)
      : delay_(delay), in_flight_(in_flight), most_in_flight_(most_in_flight), fail_(fail) {}
  ~AlarmCall() override { --*in_flight_; }
  void Start(grpc::CompletionQueue* queue) override {
    *most_in_flight_ = std::max(*most_in_flight_, ++*in_flight_);
    alarm_.Set(queue, absl::ToChronoTime(absl::Now() + delay_), this);
  }
  bool Proceed(bool) override {
    if (fail_) status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "scripted failure");
    return true;
  }
  const grpc::Status& status() const override { return status_; }

 private:
  absl::Duration delay_;
  int* in_flight_;
  int* most_in_flight_;
  bool fail_;
  grpc::Alarm alarm_;
  grpc::Status status_;
};

TEST_CASE("RunLoad keeps the concurrency in flight and counts every call once") {
  int in_flight = 0;
  int most_in_flight = 0;
  std::set<int64_t> observed;
  LoadOptions options;
  options.concurrency = 3;
  options.warmup = absl::ZeroDuration();
  options.duration = absl::Seconds(60);
  options.max_calls = 20;
  const LoadResult result = RunLoad(
      options,
      [&](int64_t sequence) {
        return std::make_unique<AlarmCall>(absl::Milliseconds(2), &in_flight, &most_in_flight,
                                           /*fail=*/sequence % 5 == 4);
      },
      [&](int64_t sequence, const PendingCall& call) {
        CHECK(call.status().ok());
        CHECK(observed.insert(sequence).second);
      });
  CHECK(result.succeeded == 16);
  CHECK(result.failed == 4);
  CHECK(result.first_error.find("scripted failure") != std::string::npos);
  CHECK(result.latency.count() == 16);
  CHECK(observed.size() == 16);
  CHECK(most_in_flight == 3);
  CHECK(in_flight == 0);
}

TEST_CASE("RunLoad at a fixed rate starts calls on schedule, not as fast as they finish") {
  int in_flight = 0;
  int most_in_flight = 0;
  LoadOptions options;
  options.concurrency = 8;
  options.rate = 50;  // one call every 20 ms
  options.warmup = absl::ZeroDuration();
  options.duration = absl::Seconds(60);
  options.max_calls = 10;
  const absl::Time start = absl::Now();
  const LoadResult result = RunLoad(
      options,
      [&](int64_t) {
        return std::make_unique<AlarmCall>(absl::Milliseconds(1), &in_flight, &most_in_flight,
                                           false);
      },
      nullptr);
  CHECK(result.succeeded == 10);
  // The tenth call is due 180 ms after the first: a closed loop would finish far sooner.
  CHECK(absl::Now() - start >= absl::Milliseconds(180));
}

}  // namespace
}  // namespace quarry::bench
