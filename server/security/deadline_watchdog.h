// Enforces the server's cap on call deadlines (--max_deadline_seconds). gRPC only knows the
// deadline a client chose; a client may choose none. The watchdog ends every call still
// running at its capped deadline (arrival + cap) with DEADLINE_EXCEEDED, whatever the call is
// doing at the time: computing, waiting on an LLM, or blocked reading a client stream.
//
// Calls register while they run (Watch returns a handle; dropping it unregisters), and one
// thread sleeps until the earliest capped deadline. Cancelling goes through gRPC's core call,
// which is safe from any thread while the handler runs; the handle's destructor and the
// cancel exclude each other, so a call is never touched after its handler returned.
#ifndef QUARRY_SERVER_SECURITY_DEADLINE_WATCHDOG_H_
#define QUARRY_SERVER_SECURITY_DEADLINE_WATCHDOG_H_

#include <grpcpp/server_context.h>

#include <map>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace quarry::security {

class DeadlineWatchdog {
 public:
  explicit DeadlineWatchdog(absl::Duration cap);
  ~DeadlineWatchdog();
  DeadlineWatchdog(const DeadlineWatchdog&) = delete;
  DeadlineWatchdog& operator=(const DeadlineWatchdog&) = delete;

  class Handle {
   public:
    Handle() = default;
    Handle(Handle&& other) noexcept { *this = std::move(other); }
    Handle& operator=(Handle&& other) noexcept;
    ~Handle();

   private:
    friend class DeadlineWatchdog;
    void Release();
    Handle(DeadlineWatchdog* watchdog, std::multimap<absl::Time, grpc::ServerContext*>::iterator it)
        : watchdog_(watchdog), it_(it) {}
    DeadlineWatchdog* watchdog_ = nullptr;
    std::multimap<absl::Time, grpc::ServerContext*>::iterator it_;
  };

  // Watches `context` if its own deadline is later than now + cap (else gRPC's own deadline
  // comes first and the handle is empty).
  Handle Watch(grpc::ServerContext* context);

  absl::Duration cap() const { return cap_; }

 private:
  void Run();

  const absl::Duration cap_;
  const std::string message_;
  absl::Mutex mutex_;
  std::multimap<absl::Time, grpc::ServerContext*> calls_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace quarry::security

#endif  // QUARRY_SERVER_SECURITY_DEADLINE_WATCHDOG_H_
