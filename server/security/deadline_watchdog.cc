#include "server/security/deadline_watchdog.h"

#include <grpc/grpc.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace quarry::security {

DeadlineWatchdog::DeadlineWatchdog(absl::Duration cap)
    : cap_(cap),
      message_(absl::StrCat("the call ran past the server's longest allowed deadline (",
                            absl::FormatDuration(cap),
                            ", --max_deadline_seconds); use a shorter deadline or split the work")),
      thread_([this] { Run(); }) {}

DeadlineWatchdog::~DeadlineWatchdog() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  thread_.join();
}

DeadlineWatchdog::Handle& DeadlineWatchdog::Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    Release();
    watchdog_ = std::exchange(other.watchdog_, nullptr);
    it_ = other.it_;
  }
  return *this;
}

DeadlineWatchdog::Handle::~Handle() { Release(); }

void DeadlineWatchdog::Handle::Release() {
  if (watchdog_ == nullptr) return;
  absl::MutexLock lock(&watchdog_->mutex_);
  watchdog_->calls_.erase(it_);
  watchdog_ = nullptr;
}

DeadlineWatchdog::Handle DeadlineWatchdog::Watch(grpc::ServerContext* context) {
  const absl::Time capped = absl::Now() + cap_;
  const auto own = context->deadline();
  if (own != std::chrono::system_clock::time_point::max() && absl::FromChrono(own) <= capped) {
    return Handle();
  }
  absl::MutexLock lock(&mutex_);
  return Handle(this, calls_.emplace(capped, context));
}

void DeadlineWatchdog::Run() {
  absl::MutexLock lock(&mutex_);
  while (!stopping_) {
    const absl::Time now = absl::Now();
    // Cancel every overdue call; its entry stays until its handler drops the handle.
    absl::Time next = absl::InfiniteFuture();
    for (auto it = calls_.begin(); it != calls_.end(); ++it) {
      if (it->first > now) {
        next = it->first;
        break;
      }
      if (it->second != nullptr) {
        grpc_call_cancel_with_status(it->second->c_call(), GRPC_STATUS_DEADLINE_EXCEEDED,
                                     message_.c_str(), nullptr);
        it->second = nullptr;  // cancelled once is enough
      }
    }
    // Deadlines are arrival + cap, so a call registering later never comes before `next`:
    // only an empty watch list needs waking by a registration.
    const bool idle = calls_.empty();
    auto wake = [this, idle]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return stopping_ || (idle && !calls_.empty());
    };
    mutex_.AwaitWithDeadline(absl::Condition(&wake), next);
  }
}

}  // namespace quarry::security
