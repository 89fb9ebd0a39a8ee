// Server limits against the real quarry-server process: per-client request rate, concurrent
// Generate streams, and the cap on call deadlines. (Message size and batch size limits are
// covered by server_test.cc's "bad input" cases.)
#include <memory>
#include <string>
#include <vector>

#include "tests/fake_llm/fake_llm_server.h"
#include "tests/integration/client_support.h"
#include "tests/integration/test_ca.h"  // WriteTextFile
#include "tests/integration/test_support.h"

namespace quarry::testing {
namespace {

TEST_CASE("limits: each client gets its burst of requests, then RESOURCE_EXHAUSTED", "[limits]") {
  // 0.001 requests a second: no token comes back during the test.
  TestServer server({"--rate_limit_qps=0.001", "--rate_limit_burst=3"});
  std::unique_ptr<QuarryClient> client = Connect(server.process());
  for (int i = 0; i < 3; ++i) REQUIRE(client->ListCollections().ok());
  absl::Status refused = client->ListCollections().status();
  CHECK(refused.code() == absl::StatusCode::kResourceExhausted);
  CHECK(std::string(refused.message()).find("rate limit") != std::string::npos);
  v1::CreateCollectionRequest create;
  create.set_name("docs");
  CHECK(client->CreateCollection(create).status().code() == absl::StatusCode::kResourceExhausted);
  // Health is not rate limited.
  absl::StatusOr<bool> healthy = client->Healthy();
  REQUIRE(healthy.ok());
  CHECK(*healthy);
}

TEST_CASE("limits: with API keys, the rate is counted per key", "[limits][keys]") {
  TempDir directory{"quarry-keys"};
  const Key first = NewKey();
  const Key second = NewKey();
  const std::string keys_file = directory.Join("keys.json");
  WriteTextFile(keys_file, "{\"keys\": [" + KeyEntry("first", first, "read", "[\"*\"]") + ", " +
                               KeyEntry("second", second, "read", "[\"*\"]") + "]}");
  TestServer server(
      {"--api_keys_file=" + keys_file, "--rate_limit_qps=0.001", "--rate_limit_burst=2"});
  std::unique_ptr<QuarryClient> as_first = Connect(server.process(), WithKey(first.secret));
  std::unique_ptr<QuarryClient> as_second = Connect(server.process(), WithKey(second.secret));
  REQUIRE(as_first->ListCollections().ok());
  REQUIRE(as_first->ListCollections().ok());
  absl::Status refused = as_first->ListCollections().status();
  CHECK(refused.code() == absl::StatusCode::kResourceExhausted);
  CHECK(std::string(refused.message()).find("\"first\"") != std::string::npos);
  CHECK(as_second->ListCollections().ok());
  CHECK(as_second->ListCollections().ok());
  CHECK(as_second->ListCollections().status().code() == absl::StatusCode::kResourceExhausted);
}

// Collection "docs" holding one document the Generate tests ask about.
void CreateDocsWithOneDocument(QuarryClient& client) {
  v1::CreateCollectionRequest create;
  create.set_name("docs");
  REQUIRE(client.CreateCollection(create).ok());
  v1::IngestRequest ingest;
  ingest.set_collection("docs");
  *ingest.add_documents() = Doc("d1", "Rotate signing keys every ninety days.");
  REQUIRE(client.Ingest(ingest).ok());
}

TEST_CASE("limits: Generate streams beyond --max_generate_streams are RESOURCE_EXHAUSTED",
          "[limits][generate]") {
  FakeLlmServer llm;
  // The answer starts, then the LLM goes quiet: the first stream stays open.
  llm.SetDefault(FakeReply::StallAfter({"Keys"}, 60000));
  TestServer server(
      {"--llm_base_url=" + llm.base_url(), "--llm_model=fake-model", "--max_generate_streams=1"});
  std::unique_ptr<QuarryClient> client = Connect(server.process());
  CreateDocsWithOneDocument(*client);

  v1::GenerateRequest request;
  request.set_collection("docs");
  request.set_question("How often are keys rotated?");
  std::optional<absl::Status> second_status;
  // While the first stream is open (its sources have arrived), a second one is refused.
  absl::StatusOr<v1::GenerateResult> first =
      client->Generate(request, [&](const v1::GenerateResponse& event) -> absl::Status {
        if (!event.has_sources() || second_status.has_value()) return absl::OkStatus();
        second_status = client->Generate(request, nullptr).status();
        return absl::CancelledError("the test is done with this stream");
      });
  CHECK(first.status().code() == absl::StatusCode::kCancelled);
  REQUIRE(second_status.has_value());
  CHECK(second_status->code() == absl::StatusCode::kResourceExhausted);
  CHECK(std::string(second_status->message()).find("--max_generate_streams") != std::string::npos);
}

TEST_CASE("limits: a call running past --max_deadline_seconds ends with DEADLINE_EXCEEDED",
          "[limits][deadline]") {
  TestServer server({"--max_deadline_seconds=2"});
  std::unique_ptr<QuarryClient> client = Connect(server.process());
  v1::CreateCollectionRequest create;
  create.set_name("docs");
  REQUIRE(client->CreateCollection(create).ok());

  // An IngestStream whose client never finishes sending: without the cap it would hold its
  // server thread until the client's own deadline, a minute away.
  grpc::ClientContext context;
  SetDeadline(context, std::chrono::seconds(60));
  v1::IngestStreamResponse response;
  std::unique_ptr<v1::DocumentService::Stub> documents = server->documents();
  std::unique_ptr<grpc::ClientWriter<v1::IngestStreamRequest>> writer =
      documents->IngestStream(&context, &response);
  v1::IngestStreamRequest batch;
  batch.set_collection("docs");
  *batch.add_documents() = Doc("d1", "the first and only batch");
  REQUIRE(writer->Write(batch));
  const grpc::Status status = writer->Finish();  // no WritesDone: the stream stays open
  INFO(Describe(status));
  CHECK(status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  CHECK(status.error_message().find("--max_deadline_seconds") != std::string::npos);

  // Calls that finish within the cap are unaffected.
  CHECK(client->ListCollections().ok());
}

TEST_CASE("limits: a Generate waiting on a silent LLM ends at --max_deadline_seconds",
          "[limits][deadline][generate]") {
  FakeLlmServer llm;
  llm.SetDefault(FakeReply::StallAfter({"Keys"}, 60000));
  TestServer server(
      {"--llm_base_url=" + llm.base_url(), "--llm_model=fake-model", "--max_deadline_seconds=2"});
  std::unique_ptr<QuarryClient> client = Connect(server.process());
  CreateDocsWithOneDocument(*client);

  v1::GenerateRequest request;
  request.set_collection("docs");
  request.set_question("How often are keys rotated?");
  client::CallOptions call;
  call.timeout = absl::Seconds(60);
  absl::StatusOr<v1::GenerateResult> result = client->Generate(request, nullptr, call);
  INFO(result.status().ToString());
  CHECK(result.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(std::string(result.status().message()).find("--max_deadline_seconds") != std::string::npos);
  // The server stopped waiting on the LLM: it hung up the stalled stream.
  CHECK(llm.WaitForDisconnects(1, std::chrono::seconds(30)));
}

}  // namespace
}  // namespace quarry::testing
