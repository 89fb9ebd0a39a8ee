#include "server/generation/llm_client.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/fake_llm/fake_llm_server.h"

namespace quarry::generation {
namespace {

using quarry::testing::FakeLlmServer;
using quarry::testing::FakeReply;
using quarry::testing::StreamStyle;
using Json = nlohmann::json;

constexpr std::chrono::seconds kWait(10);

LlmOptions FastOptions(const FakeLlmServer& server) {
  LlmOptions options;
  options.base_url = server.base_url();
  options.http.api_key = "test-key";
  options.model = "fake-model";
  options.http.initial_backoff = absl::Milliseconds(5);
  options.http.max_backoff = absl::Milliseconds(20);
  options.http.max_attempts = 3;
  options.http.breaker.failure_threshold = 100;
  return options;
}

ChatRequest Question() {
  ChatRequest request;
  request.messages = {{kSystemRole, "Answer from the sources."}, {kUserRole, "Why?"}};
  request.max_tokens = 32;
  request.temperature = 0.5f;
  request.stop = {"\n\n"};
  return request;
}

// Collects the deltas of a call.
struct Deltas {
  std::vector<std::string> pieces;
  DeltaCallback callback() {
    return [this](std::string_view text) {
      pieces.emplace_back(text);
      return true;
    };
  }
};

const std::vector<std::string> kTokens = {"Because", " the sky", " is blue", " [1]."};

TEST_CASE("Every stream variant yields the same answer, deltas and usage", "[llm]") {
  struct Variant {
    const char* name;
    StreamStyle style;
    bool usage;
  };
  std::vector<Variant> variants;
  variants.push_back({"OpenAI: role first, usage in its own chunk", {}, true});
  StreamStyle no_role;
  no_role.role_delta_first = false;
  variants.push_back({"no role delta", no_role, true});
  StreamStyle usage_last;
  usage_last.usage = StreamStyle::Usage::kOnLastChunk;
  variants.push_back({"usage on the last content chunk", usage_last, true});
  StreamStyle no_usage;
  no_usage.usage = StreamStyle::Usage::kNone;
  variants.push_back({"no usage", no_usage, false});
  StreamStyle noisy;
  noisy.keep_alive_comments = true;
  noisy.extra_fields = true;
  noisy.crlf = true;
  variants.push_back({"keep-alives, unknown fields, CRLF", noisy, true});
  StreamStyle no_done;
  no_done.send_done = false;
  variants.push_back({"no [DONE]", no_done, true});

  for (const Variant& variant : variants) {
    SECTION(variant.name) {
      FakeLlmServer server;
      server.Enqueue(FakeReply::Stream(kTokens, variant.style));
      LlmClient client(FastOptions(server));
      Deltas deltas;
      absl::StatusOr<ChatCompletion> completion =
          client.Complete(Question(), CallControl{}, deltas.callback());
      REQUIRE(completion.ok());
      CHECK(completion->text == "Because the sky is blue [1].");
      CHECK(deltas.pieces == kTokens);
      CHECK(completion->finish_reason == "stop");
      CHECK(completion->model == "fake-model");
      if (variant.usage) {
        CHECK(completion->usage == std::optional<TokenUsage>(TokenUsage{11, 4, 15}));
      } else {
        CHECK_FALSE(completion->usage.has_value());
      }
      CHECK(server.request_count() == 1);
    }
  }
}

TEST_CASE("The request carries model, messages, parameters and the API key", "[llm]") {
  FakeLlmServer server;
  server.Enqueue(FakeReply::Stream({"ok"}));
  LlmClient client(FastOptions(server));
  ChatRequest request = Question();
  request.model = "lora-adapter-7";
  Deltas deltas;
  REQUIRE(client.Complete(request, CallControl{}, deltas.callback()).ok());
  const std::vector<quarry::testing::RecordedRequest> requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].path == "/v1/chat/completions");
  CHECK(requests[0].authorization == "Bearer test-key");
  const Json body = Json::parse(requests[0].body);
  CHECK(body["model"] == "lora-adapter-7");
  CHECK(body["messages"][0] == Json{{"role", "system"}, {"content", "Answer from the sources."}});
  CHECK(body["messages"][1] == Json{{"role", "user"}, {"content", "Why?"}});
  CHECK(body["max_tokens"] == 32);
  CHECK(body["temperature"].get<double>() == Approx(0.5));
  CHECK(body["stop"] == Json::array({"\n\n"}));
  CHECK(body["stream"] == true);
  CHECK(body["stream_options"]["include_usage"] == true);

  // An empty model means the configured one.
  server.Enqueue(FakeReply::Stream({"ok"}));
  REQUIRE(client.Complete(Question(), CallControl{}, deltas.callback()).ok());
  CHECK(Json::parse(server.requests()[1].body)["model"] == "fake-model");
}

TEST_CASE("Connections are reused between calls", "[llm]") {
  FakeLlmServer server;
  LlmClient client(FastOptions(server));
  Deltas deltas;
  for (int i = 0; i < 3; ++i) {
    server.Enqueue(FakeReply::Stream({"ok"}));
    REQUIRE(client.Complete(Question(), CallControl{}, deltas.callback()).ok());
  }
  const std::vector<quarry::testing::RecordedRequest> requests = server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[1].remote_port == requests[0].remote_port);
  CHECK(requests[2].remote_port == requests[0].remote_port);
}

TEST_CASE("Non-streamed completions, asked for or not", "[llm]") {
  FakeLlmServer server;
  SECTION("stream = false") {
    LlmOptions options = FastOptions(server);
    options.stream = false;
    LlmClient client(options);
    server.Enqueue(FakeReply::Completion("Whole answer [2].", "length"));
    Deltas deltas;
    absl::StatusOr<ChatCompletion> completion =
        client.Complete(Question(), CallControl{}, deltas.callback());
    REQUIRE(completion.ok());
    CHECK(completion->text == "Whole answer [2].");
    CHECK(completion->finish_reason == "length");
    CHECK(completion->usage == std::optional<TokenUsage>(TokenUsage{11, 7, 18}));
    CHECK(deltas.pieces == std::vector<std::string>{"Whole answer [2]."});
    CHECK(Json::parse(server.requests()[0].body)["stream"] == false);
  }
  SECTION("a server that ignores stream = true") {
    LlmClient client(FastOptions(server));
    server.Enqueue(FakeReply::Completion("Plain JSON."));
    Deltas deltas;
    absl::StatusOr<ChatCompletion> completion =
        client.Complete(Question(), CallControl{}, deltas.callback());
    REQUIRE(completion.ok());
    CHECK(completion->text == "Plain JSON.");
    CHECK(deltas.pieces == std::vector<std::string>{"Plain JSON."});
  }
}

TEST_CASE("HTTP errors map to statuses with the upstream message, only some are retried", "[llm]") {
  struct Case {
    int status;
    absl::StatusCode code;
    size_t requests;  // 3 = retried up to max_attempts
  };
  for (const Case& c :
       {Case{429, absl::StatusCode::kResourceExhausted, 3},
        Case{500, absl::StatusCode::kUnavailable, 3}, Case{503, absl::StatusCode::kUnavailable, 3},
        Case{400, absl::StatusCode::kInvalidArgument, 1},
        Case{404, absl::StatusCode::kFailedPrecondition, 1},
        Case{401, absl::StatusCode::kFailedPrecondition, 1}}) {
    DYNAMIC_SECTION("HTTP " << c.status) {
      FakeLlmServer server;
      server.SetDefault(FakeReply::Error(
          c.status, R"({"error":{"message":"the model 'x' does not exist","type":"t"}})"));
      LlmClient client(FastOptions(server));
      Deltas deltas;
      const absl::Status status =
          client.Complete(Question(), CallControl{}, deltas.callback()).status();
      CHECK(status.code() == c.code);
      CHECK(std::string(status.message()).find("the model 'x' does not exist") !=
            std::string::npos);
      CHECK(std::string(status.message()).find("HTTP " + std::to_string(c.status)) !=
            std::string::npos);
      CHECK(server.request_count() == c.requests);
      CHECK(deltas.pieces.empty());
    }
  }
}

TEST_CASE("A retry after 5xx or a dropped connection succeeds before the first token", "[llm]") {
  FakeLlmServer server;
  server.Enqueue(FakeReply::Error(502, R"({"error":"bad gateway"})"));
  server.Enqueue(FakeReply::DropAfter({}));
  server.Enqueue(FakeReply::Stream(kTokens));
  LlmClient client(FastOptions(server));
  Deltas deltas;
  absl::StatusOr<ChatCompletion> completion =
      client.Complete(Question(), CallControl{}, deltas.callback());
  REQUIRE(completion.ok());
  CHECK(completion->text == "Because the sky is blue [1].");
  CHECK(deltas.pieces == kTokens);  // nothing from the failed attempts
  CHECK(server.request_count() == 3);
}

TEST_CASE("No retry once a token has been passed on", "[llm]") {
  FakeLlmServer server;
  server.Enqueue(FakeReply::DropAfter({"Partial"}));
  server.Enqueue(FakeReply::Stream(kTokens));
  LlmClient client(FastOptions(server));
  Deltas deltas;
  const absl::Status status =
      client.Complete(Question(), CallControl{}, deltas.callback()).status();
  CHECK(status.code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(status.message()).find("incomplete") != std::string::npos);
  CHECK(deltas.pieces == std::vector<std::string>{"Partial"});
  CHECK(server.request_count() == 1);
}

TEST_CASE("Errors inside the stream and streams cut short are errors", "[llm]") {
  FakeLlmServer server;
  LlmClient client(FastOptions(server));
  SECTION("an error event after a token") {
    FakeReply reply = FakeReply::StallAfter({"Hi"}, 0);
    reply.end = FakeReply::End::kComplete;
    reply.parts.push_back({"data: {\"error\":{\"message\":\"CUDA out of memory\"}}\n\n", 0});
    server.Enqueue(reply);
    Deltas deltas;
    const absl::Status status =
        client.Complete(Question(), CallControl{}, deltas.callback()).status();
    CHECK(status.code() == absl::StatusCode::kUnavailable);
    CHECK(std::string(status.message()).find("CUDA out of memory") != std::string::npos);
    CHECK(server.request_count() == 1);
  }
  SECTION("a stream that ends without finishing") {
    FakeReply reply = FakeReply::StallAfter({"Hi"}, 0);
    reply.end = FakeReply::End::kComplete;
    server.Enqueue(reply);
    Deltas deltas;
    const absl::Status status =
        client.Complete(Question(), CallControl{}, deltas.callback()).status();
    CHECK(status.code() == absl::StatusCode::kUnavailable);
    CHECK(std::string(status.message()).find("ended before") != std::string::npos);
  }
}

TEST_CASE("A connection refused is UNAVAILABLE", "[llm]") {
  std::string dead_url;
  {
    FakeLlmServer server;
    dead_url = server.base_url();
  }
  LlmOptions options;
  options.base_url = dead_url;
  options.http.initial_backoff = absl::Milliseconds(1);
  LlmClient client(options);
  Deltas deltas;
  const absl::Status status =
      client.Complete(Question(), CallControl{}, deltas.callback()).status();
  CHECK(status.code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(status.message()).find("3 attempts") != std::string::npos);
}

TEST_CASE("A base URL curl cannot use is FAILED_PRECONDITION", "[llm]") {
  LlmOptions options;
  options.base_url = "ftp://127.0.0.1:1/v1";
  LlmClient client(options);
  Deltas deltas;
  CHECK(client.Complete(Question(), CallControl{}, deltas.callback()).status().code() ==
        absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("The deadline bounds the call and the upstream sees the hang-up", "[llm]") {
  FakeLlmServer server;
  server.Enqueue(FakeReply::StallAfter({"Slow"}));
  LlmClient client(FastOptions(server));
  Deltas deltas;
  CallControl control;
  control.deadline = absl::Now() + absl::Milliseconds(300);
  const absl::Status status = client.Complete(Question(), control, deltas.callback()).status();
  CHECK(status.code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(deltas.pieces == std::vector<std::string>{"Slow"});
  CHECK(server.WaitForDisconnects(1, kWait));
  CHECK(server.request_count() == 1);  // a timeout is never retried
}

TEST_CASE("Cancellation aborts the upstream request at once", "[llm]") {
  FakeLlmServer server;
  LlmClient client(FastOptions(server));
  SECTION("by the cancel callback") {
    server.Enqueue(FakeReply::StallAfter({"First"}));
    std::atomic<bool> cancelled{false};
    CallControl control;
    control.cancelled = [&cancelled] { return cancelled.load(); };
    const absl::Status status =
        client
            .Complete(Question(), control,
                      [&cancelled](std::string_view) {
                        cancelled = true;  // the caller goes away after the first token
                        return true;
                      })
            .status();
    CHECK(status.code() == absl::StatusCode::kCancelled);
    CHECK(server.WaitForDisconnects(1, kWait));
  }
  SECTION("by the delta receiver") {
    server.Enqueue(FakeReply::StallAfter({"First"}));
    const absl::Status status =
        client.Complete(Question(), CallControl{}, [](std::string_view) { return false; }).status();
    CHECK(status.code() == absl::StatusCode::kCancelled);
    CHECK(server.WaitForDisconnects(1, kWait));
  }
  SECTION("before the headers arrive") {
    FakeReply reply = FakeReply::Stream({"late"});
    reply.delay_headers_ms = 2000;
    server.Enqueue(reply);
    std::atomic<bool> cancelled{false};
    std::thread canceller([&] {
      while (server.request_count() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      cancelled = true;
    });
    CallControl control;
    control.cancelled = [&cancelled] { return cancelled.load(); };
    const auto start = std::chrono::steady_clock::now();
    Deltas deltas;
    const absl::Status status = client.Complete(Question(), control, deltas.callback()).status();
    canceller.join();
    CHECK(status.code() == absl::StatusCode::kCancelled);
    CHECK(deltas.pieces.empty());
    // Not a timing assert on speed, only that it did not wait for the 2 s script.
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1900));
  }
}

TEST_CASE("The circuit breaker opens on a dead endpoint and recovers", "[llm]") {
  FakeLlmServer server;
  server.SetDefault(FakeReply::Error(500, R"({"error":{"message":"down"}})"));
  LlmOptions options = FastOptions(server);
  options.http.max_attempts = 1;
  options.http.breaker = {.failure_threshold = 2, .cool_down = absl::Milliseconds(200)};
  LlmClient client(options);
  Deltas deltas;
  CHECK(client.Complete(Question(), CallControl{}, deltas.callback()).status().code() ==
        absl::StatusCode::kUnavailable);
  CHECK(client.Complete(Question(), CallControl{}, deltas.callback()).status().code() ==
        absl::StatusCode::kUnavailable);
  REQUIRE(server.request_count() == 2);
  const absl::Status refused =
      client.Complete(Question(), CallControl{}, deltas.callback()).status();
  CHECK(refused.code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(refused.message()).find("circuit breaker open") != std::string::npos);
  CHECK(server.request_count() == 2);  // not sent

  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  server.Enqueue(FakeReply::Stream({"back"}));
  absl::StatusOr<ChatCompletion> recovered =
      client.Complete(Question(), CallControl{}, deltas.callback());
  REQUIRE(recovered.ok());
  CHECK(recovered->text == "back");
  CHECK(client.breaker().state() == remote::CircuitBreaker::State::kClosed);
}

TEST_CASE("Client errors do not open the breaker", "[llm]") {
  FakeLlmServer server;
  server.SetDefault(FakeReply::Error(400, R"({"error":{"message":"context too long"}})"));
  LlmOptions options = FastOptions(server);
  options.http.breaker = {.failure_threshold = 1, .cool_down = absl::Seconds(60)};
  LlmClient client(options);
  Deltas deltas;
  for (int i = 0; i < 3; ++i) {
    CHECK(client.Complete(Question(), CallControl{}, deltas.callback()).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
  CHECK(server.request_count() == 3);
  CHECK(client.breaker().state() == remote::CircuitBreaker::State::kClosed);
}

}  // namespace
}  // namespace quarry::generation
