#include "server/security/call_gate.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "index/store/filesystem.h"

namespace quarry::security {
namespace {

absl::string_view View(const grpc::string_ref& text) {
  return absl::string_view(text.data(), text.size());
}

// The caller's address without its port: "ipv4:10.0.0.7:53412" -> "ipv4:10.0.0.7".
std::string PeerHost(const grpc::ServerContext& context) {
  std::string peer = context.peer();
  if (absl::StartsWith(peer, "ipv4:") || absl::StartsWith(peer, "ipv6:")) {
    peer.resize(peer.rfind(':'));
  }
  return peer;
}

// The key the caller sent, if any: "authorization: Bearer KEY" or "x-api-key: KEY".
std::optional<std::string> PresentedKey(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    absl::string_view value = View(it->second);
    constexpr absl::string_view kBearer = "bearer ";
    if (value.size() > kBearer.size() &&
        absl::EqualsIgnoreCase(value.substr(0, kBearer.size()), kBearer)) {
      return std::string(absl::StripAsciiWhitespace(value.substr(kBearer.size())));
    }
  }
  if (auto it = metadata.find("x-api-key"); it != metadata.end()) {
    return std::string(absl::StripAsciiWhitespace(View(it->second)));
  }
  return std::nullopt;
}

}  // namespace

CallGate::Ticket& CallGate::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    if (generate_slot_ != nullptr) generate_slot_->fetch_sub(1);
    key_ = other.key_;
    generate_slot_ = std::exchange(other.generate_slot_, nullptr);
    watch_ = std::move(other.watch_);
  }
  return *this;
}

CallGate::Ticket::~Ticket() {
  if (generate_slot_ != nullptr) generate_slot_->fetch_sub(1);
}

CallGate::CallGate(const SecurityOptions& options)
    : max_generate_streams_(options.max_generate_streams) {
  if (options.rate_limit_qps > 0) {
    const double burst = options.rate_limit_burst > 0 ? options.rate_limit_burst
                                                      : std::max(1.0, options.rate_limit_qps);
    rate_limiter_ = std::make_unique<RateLimiter>(options.rate_limit_qps, burst);
  }
  if (options.max_deadline > absl::ZeroDuration()) {
    watchdog_ = std::make_unique<DeadlineWatchdog>(options.max_deadline);
  }
}

absl::StatusOr<std::unique_ptr<CallGate>> CallGate::Create(const SecurityOptions& options) {
  if (options.rate_limit_qps < 0 || options.rate_limit_burst < 0 ||
      options.max_generate_streams < 0 || options.max_deadline < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "rate limit, burst, Generate streams and deadline cap must not be negative");
  }
  if (options.rate_limit_qps == 0 && options.rate_limit_burst > 0) {
    return absl::InvalidArgumentError("--rate_limit_burst needs --rate_limit_qps");
  }
  std::unique_ptr<CallGate> gate(new CallGate(options));
  if (!options.api_keys_file.empty() && !options.api_keys_json.empty()) {
    return absl::InvalidArgumentError(
        "API keys come from --api_keys_file or --api_keys (QUARRY_API_KEYS), not both");
  }
  if (!options.api_keys_file.empty()) {
    absl::StatusOr<std::string> text = ReadFile(options.api_keys_file);
    if (!text.ok()) return text.status();
    absl::StatusOr<ApiKeyRing> keys = ApiKeyRing::Parse(*text, options.api_keys_file);
    if (!keys.ok()) return keys.status();
    gate->keys_ = *std::move(keys);
  } else if (!options.api_keys_json.empty()) {
    absl::StatusOr<ApiKeyRing> keys = ApiKeyRing::Parse(options.api_keys_json, "--api_keys");
    if (!keys.ok()) return keys.status();
    gate->keys_ = *std::move(keys);
  }
  return gate;
}

absl::StatusOr<const ApiKey*> CallGate::Authenticate(const grpc::ServerContext& context) const {
  if (!keys_.has_value()) return nullptr;
  const std::optional<std::string> presented = PresentedKey(context);
  if (!presented.has_value() || presented->empty()) {
    return absl::UnauthenticatedError(
        "this server requires an API key: send metadata \"authorization: Bearer KEY\" (or "
        "\"x-api-key: KEY\")");
  }
  const ApiKey* key = keys_->Find(*presented);
  if (key == nullptr) return absl::UnauthenticatedError("the API key is not valid");
  return key;
}

absl::Status CallGate::Permit(const ApiKey* key, Access access, absl::string_view collection) {
  if (key == nullptr) return absl::OkStatus();
  if (access == Access::kWrite && !key->can_write) {
    return absl::PermissionDeniedError(
        absl::StrCat("API key \"", key->name, "\" is read-only; this call writes"));
  }
  if (!collection.empty() && !key->MaySee(collection)) {
    return absl::PermissionDeniedError(
        absl::StrCat("API key \"", key->name, "\" is not allowed collection \"", collection, "\""));
  }
  return absl::OkStatus();
}

absl::Status CallGate::Authorize(const grpc::ServerContext& context, Access access,
                                 absl::string_view collection) const {
  absl::StatusOr<const ApiKey*> key = Authenticate(context);
  if (!key.ok()) return key.status();
  return Permit(*key, access, collection);
}

absl::StatusOr<CallGate::Ticket> CallGate::Admit(grpc::ServerContext* context,
                                                 const CallRequest& request) {
  Ticket ticket;
  absl::StatusOr<const ApiKey*> key = Authenticate(*context);
  if (!key.ok()) return key.status();
  if (absl::Status status = Permit(*key, request.access, request.collection); !status.ok()) {
    return status;
  }
  ticket.key_ = *key;

  if (rate_limiter_ != nullptr) {
    const std::string client =
        ticket.key_ != nullptr ? absl::StrCat("key:", ticket.key_->name) : PeerHost(*context);
    if (!rate_limiter_->TryAcquire(client)) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "rate limit exceeded for %s: %g requests/s, bursts of %g (--rate_limit_qps); retry "
          "with backoff",
          ticket.key_ != nullptr ? absl::StrCat("API key \"", ticket.key_->name, "\"") : client,
          rate_limiter_->qps(), rate_limiter_->burst()));
    }
  }

  if (request.generate_stream && max_generate_streams_ > 0) {
    if (generate_streams_.fetch_add(1) >= max_generate_streams_) {
      generate_streams_.fetch_sub(1);
      return absl::ResourceExhaustedError(
          absl::StrCat("the server is already running its maximum of ", max_generate_streams_,
                       " Generate streams (--max_generate_streams); retry with backoff"));
    }
    ticket.generate_slot_ = &generate_streams_;
  }

  if (watchdog_ != nullptr) ticket.watch_ = watchdog_->Watch(context);
  return ticket;
}

}  // namespace quarry::security
