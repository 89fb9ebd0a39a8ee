// CallGate without a network: option validation and the Generate stream slots (the other
// checks need a real call's metadata and peer; the integration tests cover them).
#include "server/security/call_gate.h"

#include <grpcpp/server_context.h>

#include <catch2/catch.hpp>
#include <optional>
#include <utility>

namespace quarry::security {
namespace {

SecurityOptions Options(int max_generate_streams) {
  SecurityOptions options;
  options.max_generate_streams = max_generate_streams;
  options.max_deadline = absl::ZeroDuration();
  return options;
}

TEST_CASE("Generate streams beyond the maximum are refused until one ends") {
  absl::StatusOr<std::unique_ptr<CallGate>> gate = CallGate::Create(Options(2));
  REQUIRE(gate.ok());
  grpc::ServerContext context;
  const CallRequest generate{
      .access = Access::kRead, .collection = "docs", .generate_stream = true};

  absl::StatusOr<CallGate::Ticket> first = (*gate)->Admit(&context, generate);
  REQUIRE(first.ok());
  std::optional<absl::StatusOr<CallGate::Ticket>> second = (*gate)->Admit(&context, generate);
  REQUIRE(second->ok());
  absl::StatusOr<CallGate::Ticket> third = (*gate)->Admit(&context, generate);
  REQUIRE(third.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(std::string(third.status().message()).find("--max_generate_streams") != std::string::npos);
  // Other calls are not counted.
  CHECK((*gate)->Admit(&context, {.access = Access::kRead, .collection = "docs"}).ok());

  // A moved ticket holds the slot once.
  CallGate::Ticket moved = *std::move(*second);
  second.reset();
  CHECK_FALSE((*gate)->Admit(&context, generate).ok());
  { CallGate::Ticket released = std::move(moved); }
  CHECK((*gate)->Admit(&context, generate).ok());
}

TEST_CASE("zero means no limit on Generate streams") {
  absl::StatusOr<std::unique_ptr<CallGate>> gate = CallGate::Create(Options(0));
  REQUIRE(gate.ok());
  grpc::ServerContext context;
  std::vector<CallGate::Ticket> tickets;
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<CallGate::Ticket> ticket = (*gate)->Admit(
        &context, {.access = Access::kRead, .collection = "", .generate_stream = true});
    REQUIRE(ticket.ok());
    tickets.push_back(*std::move(ticket));
  }
}

TEST_CASE("inconsistent security options are refused") {
  SecurityOptions negative = Options(1);
  negative.rate_limit_qps = -1;
  CHECK(CallGate::Create(negative).status().code() == absl::StatusCode::kInvalidArgument);

  SecurityOptions burst_only = Options(1);
  burst_only.rate_limit_burst = 5;
  CHECK(CallGate::Create(burst_only).status().code() == absl::StatusCode::kInvalidArgument);

  SecurityOptions both = Options(1);
  both.api_keys_file = "/nonexistent/keys.json";
  both.api_keys_json = "{}";
  CHECK(CallGate::Create(both).status().code() == absl::StatusCode::kInvalidArgument);

  SecurityOptions missing = Options(1);
  missing.api_keys_file = "/nonexistent/keys.json";
  CHECK_FALSE(CallGate::Create(missing).ok());

  SecurityOptions bad_json = Options(1);
  bad_json.api_keys_json = "{\"keys\": 3}";
  CHECK(CallGate::Create(bad_json).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quarry::security
