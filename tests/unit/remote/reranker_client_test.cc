#include "index/search/reranker_client.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/fake_llm/fake_llm_server.h"

namespace quarry {
namespace {

using quarry::testing::FakeEndpoint;
using quarry::testing::FakeLlmServer;
using quarry::testing::FakeReply;
using Json = nlohmann::json;

RerankerOptions FastOptions(const FakeLlmServer& fake, const std::string& path = "/rerank") {
  RerankerOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(fake.port()) + path;
  options.model = "fake-reranker";
  options.http.api_key = "rerank-key";
  options.http.initial_backoff = absl::Milliseconds(5);
  options.http.max_backoff = absl::Milliseconds(20);
  options.http.breaker.failure_threshold = 100;
  return options;
}

const std::vector<std::string> kDocuments = {
    "the moon pulls the ocean", "volcanic lava flows downhill",
    "lava from a volcano cools into rock", "penguins live in antarctica"};

TEST_CASE("Documents come back best first, in both answer formats", "[rerank]") {
  for (const bool bare : {false, true}) {
    FakeLlmServer fake;
    fake.set_rerank_bare_list(bare);
    RerankerClient client(FastOptions(fake, bare ? "/rerank" : "/v1/rerank"));
    absl::StatusOr<std::vector<RerankedDocument>> ranked =
        client.Rerank("lava volcano rock", kDocuments, 2, remote::CallControl{});
    REQUIRE(ranked.ok());
    REQUIRE(ranked->size() == 2);
    CHECK((*ranked)[0].index == 2);  // all three words
    CHECK((*ranked)[1].index == 1);  // "lava" only
    CHECK((*ranked)[0].score > (*ranked)[1].score);
    const std::vector<quarry::testing::RecordedRequest> requests = fake.requests();
    REQUIRE(requests.size() == 1);
    const Json body = Json::parse(requests[0].body);
    CHECK(body["query"] == "lava volcano rock");
    CHECK(body["documents"].size() == kDocuments.size());
    CHECK(body["top_n"] == 2);
    CHECK(body["model"] == "fake-reranker");
    CHECK(requests[0].authorization == "Bearer rerank-key");
  }
}

TEST_CASE("Reranker errors: retried when retryable, unusable answers rejected", "[rerank]") {
  FakeLlmServer fake;
  fake.Enqueue(FakeReply::Error(503, R"({"error":"warming up"})"), FakeEndpoint::kRerank);
  RerankerClient client(FastOptions(fake));
  REQUIRE(client.Rerank("lava", kDocuments, 4, remote::CallControl{}).ok());
  CHECK(fake.request_count() == 2);

  fake.Enqueue(FakeReply::Error(422, R"({"error":"batch too large"})"), FakeEndpoint::kRerank);
  const absl::Status rejected =
      client.Rerank("lava", kDocuments, 4, remote::CallControl{}).status();
  CHECK(rejected.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(rejected.message())
            .find("reranker endpoint answered HTTP 422: batch too large") != std::string::npos);
  CHECK(fake.request_count() == 3);

  FakeReply out_of_range;
  out_of_range.content_type = "application/json";
  out_of_range.parts.push_back({R"([{"index": 7, "score": 0.9}])", 0});
  fake.Enqueue(out_of_range, FakeEndpoint::kRerank);
  CHECK(client.Rerank("lava", kDocuments, 4, remote::CallControl{}).status().code() ==
        absl::StatusCode::kInternal);
}

TEST_CASE("A rerank call is bounded by the caller's deadline", "[rerank]") {
  FakeLlmServer fake;
  FakeReply stalled;
  stalled.content_type = "application/json";
  stalled.delay_headers_ms = 30000;
  fake.Enqueue(stalled, FakeEndpoint::kRerank);
  RerankerClient client(FastOptions(fake));
  remote::CallControl control;
  control.deadline = absl::Now() + absl::Milliseconds(200);
  CHECK(client.Rerank("lava", kDocuments, 4, control).status().code() ==
        absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace quarry
