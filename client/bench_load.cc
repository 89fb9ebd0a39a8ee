#include "client/bench_load.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace quarry::bench {

double LatencySummary::Quantile(double q) {
  if (samples_.empty()) return 0;
  if (!sorted_) {
    std::sort(samples_.begin(), samples_.end());
    sorted_ = true;
  }
  const double rank = std::ceil(q * static_cast<double>(samples_.size()));
  const size_t index = static_cast<size_t>(std::clamp(rank, 1.0, double(samples_.size()))) - 1;
  return samples_[index];
}

double LatencySummary::Mean() const {
  if (samples_.empty()) return 0;
  return std::accumulate(samples_.begin(), samples_.end(), 0.0) /
         static_cast<double>(samples_.size());
}

void LatencySummary::Merge(const LatencySummary& other) {
  samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
  sorted_ = false;
}

LoadResult RunLoad(const LoadOptions& options, const CallFactory& make_call,
                   const CallObserver& observe) {
  struct InFlight {
    std::unique_ptr<PendingCall> call;
    int64_t sequence;
    absl::Time started;  // scheduled start (open loop) or actual start (closed loop)
  };
  grpc::CompletionQueue queue;
  absl::flat_hash_map<void*, InFlight> in_flight;
  LoadResult result;

  const absl::Time begin = absl::Now();
  const absl::Time measure_from = begin + options.warmup;
  const absl::Time end = measure_from + options.duration;
  const bool open_loop = options.rate > 0;
  const absl::Duration interval = open_loop ? absl::Seconds(1.0 / options.rate) : absl::ZeroDuration();
  absl::Time next_start = begin;
  int64_t started = 0;

  auto start_one = [&](absl::Time scheduled) {
    std::unique_ptr<PendingCall> call = make_call(started);
    PendingCall* tag = call.get();
    in_flight.emplace(tag, InFlight{std::move(call), started, scheduled});
    ++started;
    tag->Start(&queue);
  };
  auto may_start = [&] {
    return (options.max_calls == 0 || started < options.max_calls) &&
           static_cast<int>(in_flight.size()) < options.concurrency;
  };

  bool stopping = false;
  while (true) {
    const absl::Time now = absl::Now();
    if (!stopping && (now >= end || (options.max_calls > 0 && started >= options.max_calls))) {
      stopping = true;
    }
    if (!stopping) {
      if (open_loop) {
        // Calls due now start if the cap allows; those the cap holds back start late, and their
        // latency includes the wait.
        while (next_start <= now && may_start()) {
          start_one(next_start);
          next_start += interval;
        }
      } else {
        while (may_start()) start_one(absl::Now());
      }
    }
    if (stopping && in_flight.empty()) break;

    void* tag = nullptr;
    bool ok = false;
    const absl::Time wake = stopping || !open_loop ? end + absl::Hours(1) : next_start;
    const grpc::CompletionQueue::NextStatus next =
        queue.AsyncNext(&tag, &ok, absl::ToChronoTime(wake));
    if (next == grpc::CompletionQueue::TIMEOUT) continue;
    if (next == grpc::CompletionQueue::SHUTDOWN) break;
    auto it = in_flight.find(tag);
    if (it == in_flight.end() || !it->second.call->Proceed(ok)) continue;
    const absl::Time finished = absl::Now();
    if (it->second.started >= measure_from && finished <= end) {
      if (it->second.call->status().ok()) {
        ++result.succeeded;
        result.latency.Add(absl::ToDoubleMilliseconds(finished - it->second.started));
        if (observe) observe(it->second.sequence, *it->second.call);
      } else {
        if (result.failed++ == 0) {
          result.first_error = absl::StrCat(it->second.call->status().error_code(), ": ",
                                            it->second.call->status().error_message());
        }
      }
    }
    in_flight.erase(it);
  }
  queue.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue.Next(&tag, &ok)) {
  }
  result.seconds = absl::ToDoubleSeconds(std::min(absl::Now(), end) - measure_from);
  return result;
}

}  // namespace quarry::bench
