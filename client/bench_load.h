// The load generator behind `quarry bench`: keeps many asynchronous gRPC calls in flight on
// one CompletionQueue, either a fixed number at all times (closed loop: a call starts when one
// finishes) or started at a fixed rate (open loop, capped at `concurrency` in flight; latency
// counts from the scheduled start, so a slow server cannot hide its queueing delay).
// Calls finishing during the warm-up are not counted.
#ifndef QUARRY_CLIENT_BENCH_LOAD_H_
#define QUARRY_CLIENT_BENCH_LOAD_H_

#include <grpcpp/completion_queue.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace quarry::bench {

// One RPC in flight, driven by the load generator: Start issues the first operation with
// `this` as the tag; each completion of a tag is passed to Proceed, which issues the next
// operation or returns true when the call is over (status() then says how it ended).
class PendingCall {
 public:
  virtual ~PendingCall() = default;
  virtual void Start(grpc::CompletionQueue* queue) = 0;
  virtual bool Proceed(bool ok) = 0;
  virtual const grpc::Status& status() const = 0;
};

struct LoadOptions {
  int concurrency = 2;          // calls in flight (closed loop), or the cap (open loop)
  double rate = 0;              // calls per second; 0: closed loop
  absl::Duration duration = absl::Seconds(10);
  absl::Duration warmup = absl::Seconds(1);
  int64_t max_calls = 0;        // stop after this many calls were started; 0: no limit
};

// Latencies in milliseconds, and their percentiles.
class LatencySummary {
 public:
  void Add(double milliseconds) { samples_.push_back(milliseconds); }
  int64_t count() const { return static_cast<int64_t>(samples_.size()); }
  // The q-quantile (0..1) by the nearest-rank method; 0 when empty. Sorts on first use.
  double Quantile(double q);
  double Mean() const;
  void Merge(const LatencySummary& other);

 private:
  std::vector<double> samples_;
  bool sorted_ = false;
};

struct LoadResult {
  int64_t succeeded = 0;
  int64_t failed = 0;
  std::string first_error;  // the first failed call's status, for the report
  double seconds = 0;       // measured period (after the warm-up)
  LatencySummary latency;   // of succeeded calls in the measured period

  double calls_per_second() const { return seconds > 0 ? succeeded / seconds : 0; }
};

// Makes the call numbered `sequence` (0, 1, 2, ...).
using CallFactory = std::function<std::unique_ptr<PendingCall>(int64_t sequence)>;
// Sees each finished call of the measured period that succeeded (e.g. to score recall).
using CallObserver = std::function<void(int64_t sequence, const PendingCall& call)>;

LoadResult RunLoad(const LoadOptions& options, const CallFactory& make_call,
                   const CallObserver& observe);

}  // namespace quarry::bench

#endif  // QUARRY_CLIENT_BENCH_LOAD_H_
