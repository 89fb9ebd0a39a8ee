// The checks every quarry.v1 call passes before its handler runs, in this order:
//   1. authentication (API keys on): the key in `authorization: Bearer KEY` or `x-api-key`
//      metadata must be a known one, else UNAUTHENTICATED;
//   2. authorization: the key's role and collections must allow the access, else
//      PERMISSION_DENIED;
//   3. rate limit: the client's token bucket (per key; per IP address without keys), else
//      RESOURCE_EXHAUSTED;
//   4. concurrency: Generate streams in flight below the maximum, else RESOURCE_EXHAUSTED;
//   5. the deadline cap starts counting (deadline_watchdog.h).
// The ticket returned holds the Generate slot and the watch until the handler returns.
// The gRPC health and reflection services do not pass through here: they stay open.
#ifndef QUARRY_SERVER_SECURITY_CALL_GATE_H_
#define QUARRY_SERVER_SECURITY_CALL_GATE_H_

#include <grpcpp/server_context.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/security/api_keys.h"
#include "server/security/deadline_watchdog.h"
#include "server/security/rate_limiter.h"
#include "server/security/security_options.h"

namespace quarry::security {

// What a call wants. `collection` empty: the call names no collection (ListCollections), and
// only the role is checked here.
struct CallRequest {
  Access access = Access::kRead;
  absl::string_view collection;
  bool generate_stream = false;
};

class CallGate {
 public:
  // Loads the API keys (INVALID_ARGUMENT/NOT_FOUND for a bad or missing document) and starts
  // the deadline watchdog when a cap is set.
  static absl::StatusOr<std::unique_ptr<CallGate>> Create(const SecurityOptions& options);

  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept { *this = std::move(other); }
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket();
    // The caller's key; nullptr when API keys are off.
    const ApiKey* key() const { return key_; }
    // True if the caller may see `collection` (everyone may, with keys off).
    bool MaySee(absl::string_view collection) const {
      return key_ == nullptr || key_->MaySee(collection);
    }

   private:
    friend class CallGate;
    Ticket() = default;
    const ApiKey* key_ = nullptr;
    std::atomic<int>* generate_slot_ = nullptr;
    DeadlineWatchdog::Handle watch_;
  };

  absl::StatusOr<Ticket> Admit(grpc::ServerContext* context, const CallRequest& request);

  // Steps 1 and 2 only, for a collection a call names after it was admitted (the first
  // message of an IngestStream).
  absl::Status Authorize(const grpc::ServerContext& context, Access access,
                         absl::string_view collection) const;

  bool api_keys_enabled() const { return keys_.has_value(); }

 private:
  explicit CallGate(const SecurityOptions& options);
  // The caller's key (nullptr with keys off), or UNAUTHENTICATED.
  absl::StatusOr<const ApiKey*> Authenticate(const grpc::ServerContext& context) const;
  // PERMISSION_DENIED unless `key` (nullptr: keys off) allows the access.
  static absl::Status Permit(const ApiKey* key, Access access, absl::string_view collection);

  std::optional<ApiKeyRing> keys_;
  std::unique_ptr<RateLimiter> rate_limiter_;
  const int max_generate_streams_;
  std::atomic<int> generate_streams_{0};
  std::unique_ptr<DeadlineWatchdog> watchdog_;
};

}  // namespace quarry::security

#endif  // QUARRY_SERVER_SECURITY_CALL_GATE_H_
