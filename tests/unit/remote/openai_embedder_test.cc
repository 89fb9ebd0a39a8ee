#include "index/embed/openai_embedder.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/fake_llm/fake_llm_server.h"

namespace quarry {
namespace {

using quarry::testing::FakeEmbedding;
using quarry::testing::FakeEndpoint;
using quarry::testing::FakeLlmServer;
using quarry::testing::FakeReply;
using quarry::testing::RecordedRequest;
using Json = nlohmann::json;

constexpr int kDimension = 16;

OpenAiEmbeddingsEndpoint FastEndpoint(const FakeLlmServer& fake) {
  OpenAiEmbeddingsEndpoint endpoint;
  endpoint.base_url = fake.base_url();
  endpoint.model = "fake-embed";
  endpoint.batch_size = 3;
  endpoint.http.api_key = "embed-key";
  endpoint.http.initial_backoff = absl::Milliseconds(5);
  endpoint.http.max_backoff = absl::Milliseconds(20);
  endpoint.http.max_attempts = 3;
  endpoint.http.breaker.failure_threshold = 100;
  return endpoint;
}

std::unique_ptr<OpenAiEmbedder> MakeEmbedder(const OpenAiEmbeddingsEndpoint& endpoint,
                                             int dimension = kDimension,
                                             UpstreamCallObserver* observer = nullptr) {
  auto client = std::make_shared<remote::HttpClient>(endpoint.http);
  absl::StatusOr<std::unique_ptr<OpenAiEmbedder>> embedder =
      OpenAiEmbedder::Create(client, endpoint, endpoint.model, dimension, observer);
  REQUIRE(embedder.ok());
  return *std::move(embedder);
}

std::vector<std::string> Inputs(const FakeLlmServer& fake) {
  std::vector<std::string> inputs;
  for (const auto& request : fake.requests()) {
    const Json body = Json::parse(request.body);
    for (const Json& input : body["input"]) {
      inputs.push_back(input.get<std::string>());
    }
  }
  return inputs;
}

const std::vector<std::string_view> kTexts = {
    "volcanic lava rock", "ocean tides and the moon", "glacier ice sheets", "desert sand dunes",
    "rain forest canopy", "coral reef fish",          "mountain goats"};

TEST_CASE("Texts are embedded in batches and the vectors come back in input order", "[embed]") {
  FakeLlmServer fake;
  fake.set_embedding_dimension(kDimension);
  std::unique_ptr<OpenAiEmbedder> embedder = MakeEmbedder(FastEndpoint(fake));
  absl::StatusOr<std::vector<float>> vectors = embedder->Embed(kTexts);
  REQUIRE(vectors.ok());
  REQUIRE(vectors->size() == kTexts.size() * kDimension);
  // 7 texts in batches of at most 3: 3 + 3 + 1, in order.
  const std::vector<RecordedRequest> requests = fake.requests();
  REQUIRE(requests.size() == 3);
  CHECK(Json::parse(requests[0].body)["input"].size() == 3);
  CHECK(Json::parse(requests[2].body)["input"].size() == 1);
  CHECK(Json::parse(requests[0].body)["model"] == "fake-embed");
  CHECK(requests[0].path == "/v1/embeddings");
  CHECK(requests[0].authorization == "Bearer embed-key");
  CHECK(Inputs(fake) == std::vector<std::string>(kTexts.begin(), kTexts.end()));
  // The fake answers last input first; each vector must still be its own text's.
  for (size_t i = 0; i < kTexts.size(); ++i) {
    const std::vector<float> expected = FakeEmbedding(std::string(kTexts[i]), kDimension);
    const std::vector<float> got(vectors->begin() + static_cast<ptrdiff_t>(i * kDimension),
                                 vectors->begin() + static_cast<ptrdiff_t>((i + 1) * kDimension));
    CHECK(got == expected);
  }
  CHECK(embedder->Embed({}).value().empty());
  CHECK(fake.request_count() == 3);  // nothing to embed: no request
}

TEST_CASE("A model of another dimension is a clear FAILED_PRECONDITION", "[embed]") {
  FakeLlmServer fake;
  fake.set_embedding_dimension(24);
  std::unique_ptr<OpenAiEmbedder> embedder = MakeEmbedder(FastEndpoint(fake));
  const absl::Status status = embedder->Embed(kTexts).status();
  CHECK(status.code() == absl::StatusCode::kFailedPrecondition);
  const std::string message(status.message());
  CHECK(message.find("24-dimensional") != std::string::npos);
  CHECK(message.find("dimension is 16") != std::string::npos);
  CHECK(fake.request_count() == 1);  // not retried
}

TEST_CASE("Malformed embeddings responses are errors, not vectors", "[embed]") {
  FakeLlmServer fake;
  std::unique_ptr<OpenAiEmbedder> embedder = MakeEmbedder(FastEndpoint(fake), 2);
  auto reply = [](const Json& body) {
    FakeReply json;
    json.content_type = "application/json";
    json.parts.push_back({body.dump(), 0});
    return json;
  };
  const std::vector<std::string_view> two = {"a", "b"};
  fake.Enqueue(reply(Json{{"data", Json::array({{{"index", 0}, {"embedding", {1, 2}}}})}}),
               FakeEndpoint::kEmbeddings);
  CHECK(embedder->Embed(two).status().code() == absl::StatusCode::kInternal);
  fake.Enqueue(reply(Json{{"data", Json::array({{{"index", 0}, {"embedding", {1, 2}}},
                                                {{"index", 0}, {"embedding", {3, 4}}}})}}),
               FakeEndpoint::kEmbeddings);
  CHECK(embedder->Embed(two).status().code() == absl::StatusCode::kInternal);
  fake.Enqueue(reply(Json{{"data", Json::array({{{"index", 1}, {"embedding", {1, 2}}},
                                                {{"index", 0}, {"embedding", "AAAA"}}})}}),
               FakeEndpoint::kEmbeddings);
  CHECK(embedder->Embed(two).status().code() == absl::StatusCode::kInternal);
  fake.Enqueue(reply(Json{{"data", Json::array({{{"index", 1}, {"embedding", {1, 2}}},
                                                {{"index", 0}, {"embedding", {1e300, 2}}}})}}),
               FakeEndpoint::kEmbeddings);
  CHECK(embedder->Embed(two).status().code() == absl::StatusCode::kInternal);
}

TEST_CASE("Embedding retries 429/5xx and connection errors but not client errors", "[embed]") {
  SECTION("a 503 then a 429 are retried, then the answer is used") {
    FakeLlmServer fake;
    fake.set_embedding_dimension(kDimension);
    fake.Enqueue(FakeReply::Error(503, R"({"error":{"message":"loading model"}})"),
                 FakeEndpoint::kEmbeddings);
    fake.Enqueue(FakeReply::Error(429, R"({"error":{"message":"slow down"}})"),
                 FakeEndpoint::kEmbeddings);
    std::unique_ptr<OpenAiEmbedder> embedder = MakeEmbedder(FastEndpoint(fake));
    REQUIRE(embedder->Embed({kTexts[0]}).ok());
    CHECK(fake.request_count() == 3);
  }
  SECTION("a 400 is returned at once with the upstream's message") {
    FakeLlmServer fake;
    fake.Enqueue(FakeReply::Error(400, R"({"error":{"message":"input too long"}})"),
                 FakeEndpoint::kEmbeddings);
    std::unique_ptr<OpenAiEmbedder> embedder = MakeEmbedder(FastEndpoint(fake));
    const absl::Status status = embedder->Embed({kTexts[0]}).status();
    CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(status.message()).find("input too long") != std::string::npos);
    CHECK(std::string(status.message()).find("embeddings endpoint") != std::string::npos);
    CHECK(fake.request_count() == 1);
  }
  SECTION("a 404 (unknown model) is a configuration error, not retried") {
    FakeLlmServer fake;
    fake.Enqueue(FakeReply::Error(404, R"({"error":{"message":"model not found"}})"),
                 FakeEndpoint::kEmbeddings);
    std::unique_ptr<OpenAiEmbedder> embedder = MakeEmbedder(FastEndpoint(fake));
    CHECK(embedder->Embed({kTexts[0]}).status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(fake.request_count() == 1);
  }
  SECTION("a dropped connection is retried") {
    FakeLlmServer fake;
    fake.set_embedding_dimension(kDimension);
    FakeReply dropped;
    dropped.content_type = "application/json";
    dropped.parts.push_back({R"({"data":[)", 0});
    dropped.end = FakeReply::End::kDrop;
    fake.Enqueue(dropped, FakeEndpoint::kEmbeddings);
    std::unique_ptr<OpenAiEmbedder> embedder = MakeEmbedder(FastEndpoint(fake));
    REQUIRE(embedder->Embed({kTexts[0]}).ok());
    CHECK(fake.request_count() == 2);
  }
  SECTION("attempts are bounded") {
    FakeLlmServer fake;
    for (int i = 0; i < 5; ++i) {
      fake.Enqueue(FakeReply::Error(500, R"({"error":{"message":"boom"}})"),
                   FakeEndpoint::kEmbeddings);
    }
    std::unique_ptr<OpenAiEmbedder> embedder = MakeEmbedder(FastEndpoint(fake));
    const absl::Status status = embedder->Embed({kTexts[0]}).status();
    CHECK(status.code() == absl::StatusCode::kUnavailable);
    CHECK(std::string(status.message()).find("3 attempts") != std::string::npos);
    CHECK(fake.request_count() == 3);
  }
}

TEST_CASE("The breaker stops embedding calls to a failing endpoint", "[embed]") {
  FakeLlmServer fake;
  for (int i = 0; i < 2; ++i) {
    fake.Enqueue(FakeReply::Error(500, R"({"error":{"message":"down"}})"),
                 FakeEndpoint::kEmbeddings);
  }
  OpenAiEmbeddingsEndpoint endpoint = FastEndpoint(fake);
  endpoint.http.max_attempts = 1;
  endpoint.http.breaker = {.failure_threshold = 2, .cool_down = absl::Seconds(60)};
  std::unique_ptr<OpenAiEmbedder> embedder = MakeEmbedder(endpoint);
  CHECK(embedder->Embed({kTexts[0]}).status().code() == absl::StatusCode::kUnavailable);
  CHECK(embedder->Embed({kTexts[0]}).status().code() == absl::StatusCode::kUnavailable);
  const absl::Status refused = embedder->Embed({kTexts[0]}).status();
  CHECK(refused.code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(refused.message()).find("circuit breaker open") != std::string::npos);
  CHECK(fake.request_count() == 2);  // the third call never reached the endpoint
}

// What the embedder told its observer, call by call.
class RecordingObserver : public UpstreamCallObserver {
 public:
  struct Call {
    absl::StatusCode code;
    int64_t input_tokens;
  };
  void OnCall(const absl::Status& outcome, absl::Duration latency, int64_t input_tokens,
              int64_t output_tokens) override {
    CHECK(latency >= absl::ZeroDuration());
    CHECK(output_tokens == 0);
    calls.push_back({outcome.code(), input_tokens});
  }
  std::vector<Call> calls;
};

TEST_CASE("Each embeddings request is reported to the observer with its outcome and usage",
          "[embed]") {
  FakeLlmServer fake;
  fake.set_embedding_dimension(kDimension);
  // The first batch meets an unknown model (not retried): one failed call, no more batches.
  fake.Enqueue(FakeReply::Error(404, R"({"error":{"message":"model not found"}})"),
               FakeEndpoint::kEmbeddings);
  RecordingObserver observer;
  std::unique_ptr<OpenAiEmbedder> embedder =
      MakeEmbedder(FastEndpoint(fake), kDimension, &observer);
  CHECK_FALSE(embedder->Embed(kTexts).ok());
  REQUIRE(observer.calls.size() == 1);
  CHECK(observer.calls[0].code == absl::StatusCode::kFailedPrecondition);
  CHECK(observer.calls[0].input_tokens == 0);
  // 7 texts in batches of 3, 3 and 1: the fake reports one token per input.
  observer.calls.clear();
  REQUIRE(embedder->Embed(kTexts).ok());
  REQUIRE(observer.calls.size() == 3);
  CHECK(observer.calls[0].code == absl::StatusCode::kOk);
  CHECK(observer.calls[0].input_tokens == 3);
  CHECK(observer.calls[2].input_tokens == 1);
}

TEST_CASE("An embedding call is bounded by its timeout, a query also by its caller's deadline "
          "and cancellation",
          "[embed]") {
  FakeLlmServer fake;
  FakeReply stalled;
  stalled.content_type = "application/json";
  stalled.delay_headers_ms = 30000;
  fake.Enqueue(stalled, FakeEndpoint::kEmbeddings);
  OpenAiEmbeddingsEndpoint endpoint = FastEndpoint(fake);
  absl::Status status;
  absl::StatusCode expected = absl::StatusCode::kDeadlineExceeded;
  const auto weight = [](std::string_view) { return 1.0f; };
  SECTION("the endpoint's call timeout") {
    endpoint.call_timeout = absl::Milliseconds(300);
    status = MakeEmbedder(endpoint)->Embed({kTexts[0]}).status();
  }
  SECTION("a query's deadline, well before the call timeout") {
    endpoint.call_timeout = absl::Seconds(60);
    remote::CallControl caller;
    caller.deadline = absl::Now() + absl::Milliseconds(300);
    status = MakeEmbedder(endpoint)->EmbedQuery(kTexts[0], weight, caller).status();
  }
  SECTION("a query whose caller cancels once the request is out") {
    endpoint.call_timeout = absl::Seconds(60);
    remote::CallControl caller;
    caller.cancelled = [&fake] { return fake.request_count() >= 1; };
    status = MakeEmbedder(endpoint)->EmbedQuery(kTexts[0], weight, caller).status();
    expected = absl::StatusCode::kCancelled;
  }
  CHECK(status.code() == expected);
  CHECK(fake.request_count() == 1);
}

TEST_CASE("Embedder options are validated", "[embed]") {
  FakeLlmServer fake;
  OpenAiEmbeddingsEndpoint endpoint = FastEndpoint(fake);
  auto client = std::make_shared<remote::HttpClient>(endpoint.http);
  CHECK(OpenAiEmbedder::Create(client, endpoint, "", kDimension).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(OpenAiEmbedder::Create(client, endpoint, "m", 1).status().code() ==
        absl::StatusCode::kInvalidArgument);
  endpoint.batch_size = 0;
  CHECK(OpenAiEmbedder::Create(client, endpoint, "m", kDimension).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quarry
