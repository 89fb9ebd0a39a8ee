#include "server/generation_service.h"

#include <grpcpp/grpcpp.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "index/catalog.h"
#include "nlohmann/json.hpp"
#include "prometheus/registry.h"
#include "quarry/v1/quarry.grpc.pb.h"
#include "tests/fake_llm/fake_llm_server.h"
#include "tests/unit/metric_value.h"

namespace quarry::server {
namespace {

using quarry::testing::FakeEndpoint;
using quarry::testing::FakeLlmServer;
using quarry::testing::FakeReply;
using Json = nlohmann::json;

class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    char pattern[] = "/tmp/quarry-generation-test-XXXXXX";
    const char* made = mkdtemp(pattern);
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TemporaryDirectory() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Document MakeDocument(std::string id, std::string title, std::string text) {
  Document document;
  document.id = std::move(id);
  document.title = std::move(title);
  document.text = std::move(text);
  return document;
}

// Small texts written for these tests.
std::vector<Document> Corpus() {
  return {
      MakeDocument("erebus", "Mount Erebus",
                   "Mount Erebus is the southernmost active volcano on Earth. It stands on Ross "
                   "Island in Antarctica. Its summit holds a persistent lava lake."),
      MakeDocument("basalt", "Basalt",
                   "Basalt is a fine-grained volcanic rock formed from the rapid cooling of lava. "
                   "Basalt makes up most of the ocean floor."),
      MakeDocument("bees", "Honey bees",
                   "Honey bees communicate the location of flowers with a waggle dance. A colony "
                   "can hold tens of thousands of workers."),
  };
}

// A catalog with collection "geo" holding Corpus(), served by a GenerationServiceImpl on
// 127.0.0.1 with an ephemeral port.
class Harness {
 public:
  explicit Harness(GenerationServiceOptions options = {}, std::string system_template = "",
                   SearchRerankingOptions reranking = {})
      : reranking_(std::move(reranking), &metrics_) {
    CatalogOptions catalog_options;
    catalog_options.data_directory = directory_.path();
    catalog_options.log.sync = false;
    absl::StatusOr<std::unique_ptr<Catalog>> catalog = Catalog::Open(catalog_options);
    REQUIRE(catalog.ok());
    catalog_ = *std::move(catalog);
    CollectionConfig config;
    config.name = "geo";
    config.dimension = 256;
    config.system_template = std::move(system_template);
    absl::StatusOr<std::shared_ptr<Collection>> collection = catalog_->Create(config);
    REQUIRE(collection.ok());
    REQUIRE((*collection)->Ingest(Corpus()).ok());

    service_ =
        std::make_unique<GenerationServiceImpl>(catalog_.get(), &reranking_, std::move(options),
                                                &metrics_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
    stub_ = v1::GenerationService::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                               grpc::InsecureChannelCredentials()));
  }
  ~Harness() { server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5)); }

  Catalog& catalog() { return *catalog_; }
  v1::GenerationService::Stub& stub() { return *stub_; }

  double Metric(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    return quarry::testing::MetricValue(registry_, name, labels);
  }

 private:
  prometheus::Registry registry_;
  metrics::ServerMetrics metrics_{registry_};
  TemporaryDirectory directory_;
  std::unique_ptr<Catalog> catalog_;
  SearchReranking reranking_;
  std::unique_ptr<GenerationServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::GenerationService::Stub> stub_;
};

struct Stream {
  std::vector<v1::GenerateResponse> responses;
  grpc::Status status;

  std::string Deltas() const {
    std::string text;
    for (const v1::GenerateResponse& response : responses) {
      if (response.has_delta()) text += response.delta().text();
    }
    return text;
  }
  const v1::GenerateResult& Result() const { return responses.back().result(); }
};

Stream Generate(Harness& harness, const v1::GenerateRequest& request,
                std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  auto reader = harness.stub().Generate(&context, request);
  Stream stream;
  v1::GenerateResponse response;
  while (reader->Read(&response)) stream.responses.push_back(response);
  stream.status = reader->Finish();
  return stream;
}

v1::GenerateRequest Request(std::string question) {
  v1::GenerateRequest request;
  request.set_collection("geo");
  request.set_question(std::move(question));
  return request;
}

// Checks the stream's shape: Sources, deltas, then a result that repeats them.
void CheckStreamShape(const Stream& stream) {
  REQUIRE(stream.responses.size() >= 2);
  CHECK(stream.responses.front().has_sources());
  CHECK(stream.responses.back().has_result());
  for (size_t i = 1; i + 1 < stream.responses.size(); ++i) {
    CHECK(stream.responses[i].has_delta());
  }
  const v1::GenerateResult& result = stream.Result();
  CHECK(result.answer() == stream.Deltas());
  const v1::Sources& sources = stream.responses.front().sources();
  REQUIRE(result.sources_size() == sources.sources_size());
  for (int i = 0; i < sources.sources_size(); ++i) {
    CHECK(result.sources(i).number() == i + 1);
    CHECK(result.sources(i).chunk_id() == sources.sources(i).chunk_id());
    CHECK(result.sources(i).text() == sources.sources(i).text());
  }
  for (const v1::Citation& citation : result.citations()) {
    REQUIRE(citation.source_number() >= 1);
    REQUIRE(citation.source_number() <= result.sources_size());
    CHECK(citation.chunk_id() == result.sources(citation.source_number() - 1).chunk_id());
    const std::string marker = result.answer().substr(
        citation.start_offset(), citation.end_offset() - citation.start_offset());
    CHECK(marker.front() == '[');
    CHECK(marker.back() == ']');
  }
  CHECK(result.timings().total_ms() >= result.timings().retrieval_ms());
}

TEST_CASE("Without an LLM the answer is extractive, streamed and cited", "[service]") {
  Harness harness;
  const Stream stream = Generate(harness, Request("Which volcano is the southernmost active one?"));
  REQUIRE(stream.status.ok());
  CheckStreamShape(stream);
  const v1::GenerateResult& result = stream.Result();
  CHECK(result.finish_reason() == "extractive");
  CHECK(result.model().empty());
  REQUIRE(result.sources_size() >= 1);
  CHECK(result.sources(0).document_id() == "erebus");
  CHECK(result.sources(0).title() == "Mount Erebus");
  CHECK(result.answer().rfind("Mount Erebus is the southernmost active volcano on Earth. [1]", 0) ==
        0);
  REQUIRE(result.citations_size() >= 1);
  CHECK(result.citations(0).source_number() == 1);
  CHECK(result.citations(0).start_offset() == 58);
  CHECK(result.citations(0).end_offset() == 61);
  CHECK(result.citations(0).chunk_id() == "erebus#0");
  CHECK(result.timings().first_token_ms() > 0);
}

TEST_CASE("A question the collection cannot answer gets I don't know", "[service]") {
  Harness harness;
  const Stream stream = Generate(harness, Request("Who painted the Mona Lisa?"));
  REQUIRE(stream.status.ok());
  CHECK(stream.Result().answer() == "I don't know: the sources do not answer this question.");
  CHECK(stream.Result().citations_size() == 0);
}

TEST_CASE("Invalid requests are refused before anything is written", "[service]") {
  Harness harness;
  struct Case {
    const char* name;
    v1::GenerateRequest request;
    grpc::StatusCode code;
  };
  std::vector<Case> cases;
  cases.push_back({"empty question", Request(""), grpc::StatusCode::INVALID_ARGUMENT});
  // (Invalid UTF-8 cannot be tested through gRPC: proto3 refuses to parse such a string
  // before the service sees it.)
  cases.push_back(
      {"oversized", Request(std::string(16 * 1024 + 1, 'a')), grpc::StatusCode::INVALID_ARGUMENT});
  v1::GenerateRequest unknown = Request("volcano");
  unknown.set_collection("nope");
  cases.push_back({"unknown collection", unknown, grpc::StatusCode::NOT_FOUND});
  v1::GenerateRequest bad_name = Request("volcano");
  bad_name.set_collection("../etc");
  cases.push_back({"bad collection name", bad_name, grpc::StatusCode::INVALID_ARGUMENT});
  v1::GenerateRequest templates = Request("volcano");
  templates.mutable_generation()->mutable_prompt_templates()->set_user("no placeholders");
  templates.mutable_generation()->mutable_prompt_templates()->set_system("none here either");
  cases.push_back(
      {"templates without placeholders", templates, grpc::StatusCode::INVALID_ARGUMENT});
  v1::GenerateRequest model = Request("volcano");
  model.mutable_generation()->set_model("gpt-x");
  cases.push_back({"a model with no LLM configured", model, grpc::StatusCode::FAILED_PRECONDITION});
  v1::GenerateRequest history = Request("volcano");
  history.add_history()->set_content("no role");
  cases.push_back({"history without a role", history, grpc::StatusCode::INVALID_ARGUMENT});
  v1::GenerateRequest temperature = Request("volcano");
  temperature.mutable_generation()->set_temperature(5);
  cases.push_back({"temperature out of range", temperature, grpc::StatusCode::INVALID_ARGUMENT});
  v1::GenerateRequest top_k = Request("volcano");
  top_k.mutable_retrieval()->set_top_k(-1);
  cases.push_back({"negative top_k", top_k, grpc::StatusCode::INVALID_ARGUMENT});

  for (const Case& c : cases) {
    SECTION(c.name) {
      const Stream stream = Generate(harness, c.request);
      CHECK(stream.status.error_code() == c.code);
      CHECK_FALSE(stream.status.error_message().empty());
      CHECK(stream.responses.empty());
    }
  }
}

TEST_CASE("Generation retrieves 8 chunks unless asked otherwise", "[service]") {
  Harness harness;
  std::vector<Document> more;
  for (int i = 0; i < 12; ++i) {
    more.push_back(
        MakeDocument("lava" + std::to_string(i), "",
                     "Lava sample " + std::to_string(i) + " cooled into volcanic rock."));
  }
  REQUIRE((*harness.catalog().Get("geo"))->Ingest(more).ok());
  const Stream stream = Generate(harness, Request("volcanic lava rock"));
  REQUIRE(stream.status.ok());
  CHECK(stream.responses.front().sources().sources_size() == 8);
  v1::GenerateRequest three = Request("volcanic lava rock");
  three.mutable_retrieval()->set_top_k(3);
  CHECK(Generate(harness, three).responses.front().sources().sources_size() == 3);
}

GenerationServiceOptions LlmOptionsFor(const FakeLlmServer& fake) {
  GenerationServiceOptions options;
  options.llm.base_url = fake.base_url();
  options.llm.model = "fake-model";
  options.llm.http.initial_backoff = absl::Milliseconds(5);
  options.allowed_models = {"lora-geo"};
  return options;
}

TEST_CASE("With an LLM the answer streams from it, with citations and usage", "[service]") {
  FakeLlmServer fake;
  fake.Enqueue(FakeReply::Stream({"Mount Erebus", " [1]", " is in Antarctica [1, 2]."}));
  Harness harness(LlmOptionsFor(fake));
  v1::GenerateRequest request = Request("Which volcano is the southernmost active one?");
  v1::ConversationTurn* turn = request.add_history();
  turn->set_role(v1::ROLE_USER);
  turn->set_content("Tell me about volcanoes.");
  request.mutable_generation()->set_max_tokens(100);
  const Stream stream = Generate(harness, request);
  REQUIRE(stream.status.ok());
  CheckStreamShape(stream);
  const v1::GenerateResult& result = stream.Result();
  CHECK(result.answer() == "Mount Erebus [1] is in Antarctica [1, 2].");
  CHECK(stream.responses.size() == 5);  // sources, 3 deltas, result
  CHECK(result.finish_reason() == "stop");
  CHECK(result.model() == "fake-model");
  CHECK(result.usage().prompt_tokens() == 11);
  CHECK(result.usage().completion_tokens() == 3);
  CHECK(result.usage().total_tokens() == 14);
  CHECK(harness.Metric("quarry_llm_requests_total", {{"outcome", "OK"}}) == 1);
  CHECK(harness.Metric("quarry_llm_request_duration_seconds") == 1);
  CHECK(harness.Metric("quarry_llm_time_to_first_token_seconds") == 1);
  CHECK(harness.Metric("quarry_llm_tokens_total", {{"direction", "input"}}) == 11);
  CHECK(harness.Metric("quarry_llm_tokens_total", {{"direction", "output"}}) == 3);
  CHECK(harness.Metric("quarry_search_duration_seconds") == 1);  // the retrieval
  REQUIRE(result.citations_size() == 3);
  CHECK(result.citations(0).source_number() == 1);
  CHECK(result.citations(0).start_offset() == 13);
  CHECK(result.citations(0).end_offset() == 16);
  CHECK(result.citations(1).source_number() == 1);
  CHECK(result.citations(2).source_number() == 2);
  CHECK(result.citations(2).start_offset() == result.citations(1).start_offset());

  // What the LLM was sent: the system prompt, the history, then sources and question.
  const std::vector<quarry::testing::RecordedRequest> sent = fake.requests();
  REQUIRE(sent.size() == 1);
  const Json body = Json::parse(sent[0].body);
  REQUIRE(body["messages"].size() == 3);
  CHECK(body["messages"][0]["role"] == "system");
  CHECK(body["messages"][0]["content"].get<std::string>().find("[1]") != std::string::npos);
  CHECK(body["messages"][1] == Json{{"role", "user"}, {"content", "Tell me about volcanoes."}});
  const std::string user = body["messages"][2]["content"];
  CHECK(user.rfind("Sources:\n[1] Mount Erebus\nMount Erebus is the southernmost", 0) == 0);
  CHECK(user.ends_with("\n\nQuestion: Which volcano is the southernmost active one?"));
  CHECK(body["max_tokens"] == 100);
  CHECK(body["model"] == "fake-model");
}

TEST_CASE("Templates: the collection's, then the request's", "[service]") {
  FakeLlmServer fake;
  fake.SetDefault(FakeReply::Stream({"ok"}));
  Harness harness(LlmOptionsFor(fake), "Collection prompt. {sources}");
  REQUIRE(Generate(harness, Request("volcano")).status.ok());
  v1::GenerateRequest request = Request("volcano");
  request.mutable_generation()->mutable_prompt_templates()->set_system("Request prompt.");
  request.mutable_generation()->mutable_prompt_templates()->set_user("Q={question} S={sources}");
  REQUIRE(Generate(harness, request).status.ok());
  const std::vector<quarry::testing::RecordedRequest> sent = fake.requests();
  REQUIRE(sent.size() == 2);
  const Json first = Json::parse(sent[0].body);
  CHECK(first["messages"][0]["content"].get<std::string>().rfind("Collection prompt. [1] ", 0) ==
        0);
  const Json second = Json::parse(sent[1].body);
  CHECK(second["messages"][0]["content"] == "Request prompt.");
  CHECK(second["messages"][1]["content"].get<std::string>().rfind("Q=volcano S=[1] ", 0) == 0);
}

TEST_CASE("Models outside the allow-list are refused", "[service]") {
  FakeLlmServer fake;
  fake.SetDefault(FakeReply::Stream({"ok"}));
  Harness harness(LlmOptionsFor(fake));
  v1::GenerateRequest request = Request("volcano");
  request.mutable_generation()->set_model("gpt-unlisted");
  const Stream refused = Generate(harness, request);
  CHECK(refused.status.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(refused.status.error_message().find("gpt-unlisted") != std::string::npos);
  CHECK(fake.request_count() == 0);
  request.mutable_generation()->set_model("lora-geo");
  const Stream allowed = Generate(harness, request);
  REQUIRE(allowed.status.ok());
  CHECK(Json::parse(fake.requests().at(0).body)["model"] == "lora-geo");
}

TEST_CASE("generation.extractive skips the LLM", "[service]") {
  FakeLlmServer fake;
  Harness harness(LlmOptionsFor(fake));
  v1::GenerateRequest request = Request("How do honey bees communicate?");
  request.mutable_generation()->set_extractive(true);
  const Stream stream = Generate(harness, request);
  REQUIRE(stream.status.ok());
  CHECK(stream.Result().finish_reason() == "extractive");
  CHECK(stream.Result().answer().find("waggle dance") != std::string::npos);
  CHECK(fake.request_count() == 0);
}

TEST_CASE("LLM errors reach the caller with their code and message", "[service]") {
  FakeLlmServer fake;
  fake.SetDefault(FakeReply::Error(429, R"({"error":{"message":"rate limit reached"}})"));
  GenerationServiceOptions options = LlmOptionsFor(fake);
  options.llm.http.max_attempts = 2;
  Harness harness(options);
  const Stream stream = Generate(harness, Request("volcano"));
  CHECK(stream.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(stream.status.error_message().find("rate limit reached") != std::string::npos);
  REQUIRE(stream.responses.size() == 1);  // the sources went out first
  CHECK(stream.responses[0].has_sources());
  CHECK(fake.request_count() == 2);
  CHECK(harness.Metric("quarry_llm_requests_total", {{"outcome", "RESOURCE_EXHAUSTED"}}) == 1);
  CHECK(harness.Metric("quarry_llm_requests_total", {{"outcome", "OK"}}) == 0);
  CHECK(harness.Metric("quarry_llm_time_to_first_token_seconds") == 0);
}

TEST_CASE("The caller's deadline reaches the upstream request", "[service]") {
  FakeLlmServer fake;
  fake.Enqueue(FakeReply::StallAfter({"Slowly"}));
  Harness harness(LlmOptionsFor(fake));
  const Stream stream = Generate(harness, Request("volcano"), std::chrono::milliseconds(500));
  CHECK(stream.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  CHECK(fake.WaitForDisconnects(1, std::chrono::seconds(10)));
}

TEST_CASE("A cancelled call aborts the upstream request", "[service]") {
  FakeLlmServer fake;
  fake.Enqueue(FakeReply::StallAfter({"First"}));
  Harness harness(LlmOptionsFor(fake));
  grpc::ClientContext context;
  auto reader = harness.stub().Generate(&context, Request("volcano"));
  v1::GenerateResponse response;
  REQUIRE(reader->Read(&response));
  CHECK(response.has_sources());
  REQUIRE(reader->Read(&response));
  CHECK(response.delta().text() == "First");
  context.TryCancel();
  while (reader->Read(&response)) {
  }
  CHECK(reader->Finish().error_code() == grpc::StatusCode::CANCELLED);
  CHECK(fake.WaitForDisconnects(1, std::chrono::seconds(10)));
}

TEST_CASE("retrieval.rerank orders the sources by the reranker, or says why not", "[service]") {
  FakeLlmServer fake;
  SearchRerankingOptions reranking;
  reranking.reranker.url = "http://127.0.0.1:" + std::to_string(fake.port()) + "/rerank";
  reranking.reranker.http.initial_backoff = absl::Milliseconds(5);
  Harness harness({}, "", reranking);
  v1::GenerateRequest request = Request("volcanic lava rock");
  request.mutable_retrieval()->set_top_k(2);
  const Stream fused = Generate(harness, request);
  REQUIRE(fused.status.ok());
  REQUIRE(fused.Result().sources_size() == 2);
  CHECK(fused.Result().notices_size() == 0);

  // The reranker puts the second fused candidate first.
  FakeReply swapped;
  swapped.content_type = "application/json";
  swapped.parts.push_back(
      {R"({"results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":0.1}]})", 0});
  fake.Enqueue(swapped, FakeEndpoint::kRerank);
  request.mutable_retrieval()->set_rerank(true);
  const Stream reranked = Generate(harness, request);
  REQUIRE(reranked.status.ok());
  REQUIRE(reranked.Result().sources_size() == 2);
  CHECK(reranked.Result().sources(0).chunk_id() == fused.Result().sources(1).chunk_id());
  CHECK(reranked.Result().sources(1).chunk_id() == fused.Result().sources(0).chunk_id());
  CHECK(reranked.Result().notices_size() == 0);
  REQUIRE(fake.request_count() == 1);
  CHECK(Json::parse(fake.requests()[0].body)["query"] == "volcanic lava rock");

  // A failing reranker leaves the fused order and a notice.
  fake.Enqueue(FakeReply::Error(404, R"({"error":"no such model"})"), FakeEndpoint::kRerank);
  const Stream degraded = Generate(harness, request);
  REQUIRE(degraded.status.ok());
  REQUIRE(degraded.Result().sources_size() == 2);
  CHECK(degraded.Result().sources(0).chunk_id() == fused.Result().sources(0).chunk_id());
  REQUIRE(degraded.Result().notices_size() == 1);
  CHECK(degraded.Result().notices(0).find("no such model") != std::string::npos);
}

}  // namespace
}  // namespace quarry::server
