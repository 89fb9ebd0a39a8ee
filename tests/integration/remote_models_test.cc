// quarry-server and quarry-indexer as real processes against the fake OpenAI-compatible model
// server (tests/fake_llm): collections with embedder=openai embed documents and queries through
// the embeddings endpoint (server ingest and `quarry-indexer build`), Search reranks through
// the reranker and degrades to the fused order when it fails, and the `quarry ask` CLI streams
// an answer from the LLM (or an extractive one without it).
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/fake_llm/fake_llm_server.h"
#include "tests/integration/server_process.h"
#include "tests/integration/test_support.h"

namespace quarry::testing {
namespace {

using Json = nlohmann::json;

constexpr int kDimension = 256;  // wide enough that the fake's word hashes rarely collide

const std::vector<std::pair<std::string, std::string>> kGeography = {
    {"erebus", "Mount Erebus on Ross Island is the southernmost active volcano on Earth."},
    {"tides", "Ocean tides rise and fall with the pull of the moon."},
    {"sahara", "The Sahara desert has sand dunes taller than buildings."},
    {"reef", "Coral reefs shelter a quarter of all marine fish species."}};

std::vector<v1::Document> GeographyDocs() {
  std::vector<v1::Document> documents;
  for (const auto& [id, text] : kGeography) documents.push_back(Doc(id, text, "About " + id));
  return documents;
}

v1::CollectionSpec OpenAiSpec(int dimension) {
  v1::CollectionSpec spec;
  spec.set_dimension(dimension);
  spec.set_index_spec("Flat");
  spec.mutable_embedder()->set_kind(v1::EMBEDDER_KIND_OPENAI);
  return spec;
}

std::vector<Json> RequestsTo(const FakeLlmServer& fake, const std::string& path) {
  std::vector<Json> bodies;
  for (const RecordedRequest& request : fake.requests()) {
    if (request.path == path) bodies.push_back(Json::parse(request.body));
  }
  return bodies;
}

TEST_CASE("embedder=openai collections embed through the configured endpoint",
          "[remote][embeddings]") {
  FakeLlmServer fake;
  fake.set_embedding_dimension(kDimension);
  TestServer server({"--embedder_base_url=" + fake.base_url(), "--embedder_api_key=embed-secret",
                     "--embedder_model=fake-embed", "--embedder_batch_size=3"});
  Client client(server.process());
  REQUIRE_OK(client.CreateCollection("geo", OpenAiSpec(kDimension)));
  REQUIRE_OK(client.Ingest("geo", GeographyDocs()));

  // Ingest embedded every chunk through the endpoint, in batches of at most 3, with the key.
  const std::vector<Json> batches = RequestsTo(fake, "/v1/embeddings");
  REQUIRE(batches.size() == 2);
  CHECK(batches[0]["input"].size() == 3);
  CHECK(batches[1]["input"].size() == 1);
  CHECK(batches[0]["model"] == "fake-embed");
  CHECK(fake.requests()[0].authorization == "Bearer embed-secret");

  // Dense search embeds the query through the endpoint too and finds the document sharing its
  // words.
  v1::SearchResponse response;
  REQUIRE_OK(client.Search(
      TextQuery("geo", "southernmost active volcano", v1::SEARCH_MODE_DENSE, 2), &response));
  REQUIRE(response.hits_size() > 0);
  CHECK(response.hits(0).document_id() == "erebus");
  REQUIRE_OK(client.Search(TextQuery("geo", "moon tides", v1::SEARCH_MODE_DENSE, 2), &response));
  REQUIRE(response.hits_size() > 0);
  CHECK(response.hits(0).document_id() == "tides");
  CHECK(RequestsTo(fake, "/v1/embeddings").back()["input"][0] == "moon tides");

  SECTION("a model of another dimension is FAILED_PRECONDITION naming both, and stores nothing") {
    REQUIRE_OK(client.CreateCollection("narrow", OpenAiSpec(16)));
    const grpc::Status status = client.Ingest("narrow", GeographyDocs());
    QUARRY_CHECK_STATUS(status, grpc::StatusCode::FAILED_PRECONDITION);
    CHECK(status.error_message().find(std::to_string(kDimension) + "-dimensional") !=
          std::string::npos);
    CHECK(status.error_message().find("dimension is 16") != std::string::npos);
    v1::Collection collection;
    REQUIRE_OK(client.GetCollection("narrow", &collection));
    CHECK(collection.stats().documents() == 0);
  }

  SECTION("quarry-indexer build embeds files through the same endpoint") {
    TempDir scratch("quarry-embed-build");
    const std::string corpus = scratch.Join("corpus.jsonl");
    {
      std::ofstream out(corpus);
      out << R"({"_id": "glacier", "title": "Ice", "text": "Glaciers carve fjords into granite valleys."})"
          << "\n";
    }
    const size_t before = RequestsTo(fake, "/v1/embeddings").size();
    const ProcessResult build = RunProcess(
        {QUARRY_INDEXER_BINARY, "build", "--data_dir=" + server.data_dir(), "--collection=geo",
         "--embedder_base_url=" + fake.base_url(), "--embedder_model=fake-embed", corpus},
        scratch);
    INFO(build.output);
    REQUIRE(build.exit_code == 0);
    CHECK(RequestsTo(fake, "/v1/embeddings").size() == before + 1);
    CHECK(Eventually([&] {
      v1::SearchResponse found;
      return client
                 .Search(TextQuery("geo", "glaciers carve fjords", v1::SEARCH_MODE_DENSE, 1),
                         &found)
                 .ok() &&
             found.hits_size() == 1 && found.hits(0).document_id() == "glacier";
    }));
  }
}

TEST_CASE("embedder=openai without an endpoint is refused at create", "[remote][embeddings]") {
  TestServer server;
  Client client(server.process());
  const grpc::Status status = client.CreateCollection("geo", OpenAiSpec(kDimension));
  QUARRY_CHECK_STATUS(status, grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(status.error_message().find("--embedder_base_url") != std::string::npos);
}

v1::SearchRequest RerankQuery(const std::string& text, int top_k) {
  v1::SearchRequest request = TextQuery("geo", text, v1::SEARCH_MODE_UNSPECIFIED, top_k);
  request.mutable_options()->set_rerank(true);
  return request;
}

TEST_CASE("Search reranks through the reranker and keeps the fused order when it fails",
          "[remote][rerank]") {
  FakeLlmServer fake;
  TestServer server({"--reranker_url=http://127.0.0.1:" + std::to_string(fake.port()) + "/rerank",
                     "--reranker_model=fake-reranker"});
  Client client(server.process());
  REQUIRE_OK(client.CreateCollection("geo"));
  REQUIRE_OK(client.Ingest("geo", GeographyDocs()));

  const std::string query = "moon marine fish species";
  v1::SearchResponse fused;
  REQUIRE_OK(client.Search(TextQuery("geo", query, v1::SEARCH_MODE_UNSPECIFIED, 4), &fused));
  CHECK_FALSE(fused.reranked());
  REQUIRE(fused.hits_size() >= 2);

  v1::SearchResponse reranked;
  REQUIRE_OK(client.Search(RerankQuery(query, 2), &reranked));
  CHECK(reranked.reranked());
  CHECK(reranked.notices_size() == 0);
  REQUIRE(reranked.hits_size() == 2);
  // Best first by the reranker's score, which the fake computes from word overlap.
  double previous = 2;
  for (const v1::SearchHit& hit : reranked.hits()) {
    REQUIRE(hit.has_rerank_score());
    const double expected = FakeRerankScore(query, hit.title() + "\n" + hit.text());
    CHECK(hit.rerank_score() == Approx(expected));
    CHECK(hit.score() == hit.rerank_score());
    CHECK(hit.rerank_score() <= previous);
    previous = hit.rerank_score();
  }
  CHECK(reranked.hits(0).document_id() == "reef");  // 3 of the 4 words
  const std::vector<Json> calls = RequestsTo(fake, "/rerank");
  REQUIRE(calls.size() == 1);
  CHECK(calls[0]["query"] == query);
  CHECK(calls[0]["model"] == "fake-reranker");
  CHECK(calls[0]["top_n"] == 2);
  CHECK(calls[0]["documents"].size() == static_cast<size_t>(fused.hits_size()));

  SECTION("the reranker's order replaces the fused one") {
    FakeReply reversed;
    reversed.content_type = "application/json";
    reversed.parts.push_back(
        {R"({"results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":0.2}]})",
         0});
    fake.Enqueue(reversed, FakeEndpoint::kRerank);
    v1::SearchResponse swapped;
    REQUIRE_OK(client.Search(RerankQuery(query, 2), &swapped));
    CHECK(swapped.reranked());
    REQUIRE(swapped.hits_size() == 2);
    CHECK(swapped.hits(0).chunk_id() == fused.hits(1).chunk_id());
    CHECK(swapped.hits(1).chunk_id() == fused.hits(0).chunk_id());
    CHECK(swapped.hits(0).rerank_score() == Approx(0.9));
  }
  SECTION("a failing reranker degrades to the fused order and says so") {
    fake.Enqueue(FakeReply::Error(400, R"({"error":{"message":"rerank model not loaded"}})"),
                 FakeEndpoint::kRerank);
    v1::SearchResponse degraded;
    REQUIRE_OK(client.Search(RerankQuery(query, 2), &degraded));
    CHECK_FALSE(degraded.reranked());
    REQUIRE(degraded.notices_size() == 1);
    CHECK(degraded.notices(0).find("reranker failed") != std::string::npos);
    CHECK(degraded.notices(0).find("rerank model not loaded") != std::string::npos);
    REQUIRE(degraded.hits_size() == 2);
    CHECK(degraded.hits(0).chunk_id() == fused.hits(0).chunk_id());
    CHECK(degraded.hits(1).chunk_id() == fused.hits(1).chunk_id());
    CHECK_FALSE(degraded.hits(0).has_rerank_score());
  }
  SECTION("a candidate depth above the server's limit is INVALID_ARGUMENT") {
    v1::SearchRequest request = RerankQuery(query, 2);
    request.mutable_options()->set_rerank_candidates(101);
    QUARRY_CHECK_STATUS(client.Search(request), grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_CASE("Search with rerank and no reranker configured keeps the fused order",
          "[remote][rerank]") {
  TestServer server;
  Client client(server.process());
  REQUIRE_OK(client.CreateCollection("geo"));
  REQUIRE_OK(client.Ingest("geo", GeographyDocs()));
  v1::SearchResponse response;
  REQUIRE_OK(client.Search(RerankQuery("volcano", 2), &response));
  CHECK_FALSE(response.reranked());
  REQUIRE(response.notices_size() == 1);
  CHECK(response.notices(0).find("no reranker is configured") != std::string::npos);
  REQUIRE(response.hits_size() > 0);
  CHECK(response.hits(0).document_id() == "erebus");
}

// A JSON reply that never comes: the connection is held until the client hangs up.
FakeReply StallUntilHungUp() {
  FakeReply stall;
  stall.content_type = "application/json";
  stall.end = FakeReply::End::kStall;
  stall.stall_ms = 120000;
  return stall;
}

// A search that waits on no remote model answers, and answers right.
void RequireLocalSearchAnswers(Client& client) {
  v1::SearchResponse response;
  REQUIRE_OK(client.Search(TextQuery("geo", "volcano island", v1::SEARCH_MODE_UNSPECIFIED, 1),
                           &response));
  REQUIRE(response.hits_size() == 1);
  CHECK(response.hits(0).document_id() == "erebus");
}

// Searches stalled on a remote model, started without waiting for their answers.
struct StalledSearches {
  grpc::CompletionQueue queue;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<v1::SearchResponse> responses;
  std::vector<grpc::Status> statuses;
  std::vector<std::unique_ptr<grpc::ClientAsyncResponseReader<v1::SearchResponse>>> readers;

  StalledSearches(v1::SearchService::Stub& stub, const v1::SearchRequest& request, int count)
      : responses(count), statuses(count) {
    for (int i = 0; i < count; ++i) {
      contexts.push_back(std::make_unique<grpc::ClientContext>());
      SetDeadline(*contexts.back());
      readers.push_back(stub.AsyncSearch(contexts.back().get(), request, &queue));
      readers.back()->Finish(&responses[i], &statuses[i], reinterpret_cast<void*>(intptr_t{i}));
    }
  }
  // How many have finished by now.
  int FinishedNow() {
    int finished = 0;
    void* tag = nullptr;
    bool ok = false;
    while (queue.AsyncNext(&tag, &ok, std::chrono::system_clock::now()) ==
           grpc::CompletionQueue::GOT_EVENT) {
      ++finished;
    }
    return finished;
  }
  // Waits for every one to finish.
  void WaitAll(int already_finished) {
    void* tag = nullptr;
    bool ok = false;
    for (int i = already_finished; i < static_cast<int>(readers.size()); ++i) {
      REQUIRE(queue.Next(&tag, &ok));
    }
  }
  // Their callers hang up; each ends CANCELLED.
  void CancelAll(int already_finished) {
    for (auto& context : contexts) context->TryCancel();
    WaitAll(already_finished);
    for (const grpc::Status& status : statuses) {
      CHECK(status.error_code() == grpc::StatusCode::CANCELLED);
    }
  }
};

TEST_CASE("searches stalled on the reranker hold up neither other searches nor shutdown",
          "[remote][rerank]") {
  constexpr int kSearchThreads = 2;
  constexpr int kStalled = kSearchThreads + 2;  // more than the threads answering Search
  FakeLlmServer fake;
  for (int i = 0; i < kStalled; ++i) fake.Enqueue(StallUntilHungUp(), FakeEndpoint::kRerank);
  TestServer server({"--reranker_url=http://127.0.0.1:" + std::to_string(fake.port()) + "/rerank",
                     "--reranker_timeout_seconds=300", "--shutdown_grace_seconds=1",
                     "--search_threads=" + std::to_string(kSearchThreads)});
  Client client(server.process());
  REQUIRE_OK(client.CreateCollection("geo"));
  REQUIRE_OK(client.Ingest("geo", GeographyDocs()));

  std::unique_ptr<v1::SearchService::Stub> stub = server->search();
  StalledSearches stalled(*stub, RerankQuery("moon marine fish species", 2), kStalled);
  REQUIRE(fake.WaitForRequests(kStalled, std::chrono::seconds(60)));

  // Every thread answering Search is free for searches that wait on nothing.
  for (int i = 0; i < 4 * kSearchThreads; ++i) RequireLocalSearchAnswers(client);
  // The reranker holds its connections until hung up on: the stalled searches are still open.
  const int finished = stalled.FinishedNow();
  CHECK(finished == 0);

  SECTION("a caller's cancellation reaches the reranker call") {
    stalled.CancelAll(finished);
    CHECK(fake.WaitForDisconnects(kStalled, std::chrono::seconds(60)));
    // The reranker answers again (computed scores): reranked searches work as before.
    v1::SearchResponse reranked;
    REQUIRE_OK(client.Search(RerankQuery("moon marine fish species", 2), &reranked));
    CHECK(reranked.reranked());
  }
  SECTION("SIGTERM cancels them after the grace period and the server exits cleanly") {
    CHECK(server.process().Stop() == 0);
    stalled.WaitAll(finished);
    for (const grpc::Status& status : stalled.statuses) CHECK_FALSE(status.ok());
    CHECK(fake.WaitForDisconnects(kStalled, std::chrono::seconds(60)));
  }
}

TEST_CASE("text searches waiting on the embeddings endpoint hold up no other search and end "
          "when their callers hang up",
          "[remote][embeddings]") {
  FakeLlmServer fake;
  fake.set_embedding_dimension(kDimension);
  TestServer server({"--embedder_base_url=" + fake.base_url(), "--embedder_model=fake-embed",
                     "--embedder_timeout_seconds=300", "--search_threads=1"});
  Client client(server.process());
  REQUIRE_OK(client.CreateCollection("remote", OpenAiSpec(kDimension)));
  REQUIRE_OK(client.Ingest("remote", GeographyDocs()));
  REQUIRE_OK(client.CreateCollection("geo"));
  REQUIRE_OK(client.Ingest("geo", GeographyDocs()));

  constexpr int kStalled = 2;  // more than the one thread answering Search
  for (int i = 0; i < kStalled; ++i) fake.Enqueue(StallUntilHungUp(), FakeEndpoint::kEmbeddings);
  const size_t before = fake.request_count();
  std::unique_ptr<v1::SearchService::Stub> stub = server->search();
  StalledSearches stalled(*stub, TextQuery("remote", "volcano island"), kStalled);
  REQUIRE(fake.WaitForRequests(before + kStalled, std::chrono::seconds(60)));

  RequireLocalSearchAnswers(client);
  const int finished = stalled.FinishedNow();
  CHECK(finished == 0);

  // Their callers hang up: the embeddings calls made for them end too.
  stalled.CancelAll(finished);
  CHECK(fake.WaitForDisconnects(kStalled, std::chrono::seconds(60)));
}

ProcessResult Ask(TestServer& server, const TempDir& scratch, const std::string& question,
                  std::vector<std::string> extra = {}) {
  std::vector<std::string> arguments = {
      QUARRY_CLI_BINARY, "ask", question, "--collection=geo", "--address=" + server->address(),
      "--timeout=60"};
  arguments.insert(arguments.end(), extra.begin(), extra.end());
  return RunProcess(arguments, scratch);
}

TEST_CASE("quarry search --rerank prints the reranker's order", "[remote][rerank]") {
  FakeLlmServer fake;
  TestServer server({"--reranker_url=http://127.0.0.1:" + std::to_string(fake.port()) + "/rerank"});
  Client client(server.process());
  REQUIRE_OK(client.CreateCollection("geo"));
  REQUIRE_OK(client.Ingest("geo", GeographyDocs()));
  TempDir scratch("quarry-search-rerank");
  const std::vector<std::string> search = {QUARRY_CLI_BINARY,
                                           "search",
                                           "moon marine fish species",
                                           "--collection=geo",
                                           "--address=" + server->address(),
                                           "--k=2"};

  std::vector<std::string> reranked = search;
  reranked.insert(reranked.end(), {"--rerank", "--rerank_candidates=4"});
  const ProcessResult result = RunProcess(reranked, scratch);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  CHECK(result.output.find("reranked") != std::string::npos);
  CHECK(result.output.find("reef#0") < result.output.find("tides#0"));
  const std::vector<Json> calls = RequestsTo(fake, "/rerank");
  REQUIRE(calls.size() == 1);
  CHECK(calls[0]["documents"].size() == 4);

  std::vector<std::string> without_rerank = search;
  without_rerank.push_back("--rerank_candidates=4");
  const ProcessResult refused = RunProcess(without_rerank, scratch);
  CHECK(refused.exit_code != 0);
  CHECK(refused.output.find("--rerank_candidates needs --rerank") != std::string::npos);
  CHECK(RequestsTo(fake, "/rerank").size() == 1);
}

TEST_CASE("quarry ask streams the LLM's answer and prints the numbered sources", "[remote][ask]") {
  FakeLlmServer fake;
  TestServer server({"--llm_base_url=" + fake.base_url(), "--llm_model=fake-model"});
  Client client(server.process());
  REQUIRE_OK(client.CreateCollection("geo"));
  REQUIRE_OK(client.Ingest("geo", GeographyDocs()));
  fake.Enqueue(FakeReply::Stream({"Mount Erebus", " is the southernmost", " active volcano [1]."}));

  TempDir scratch("quarry-ask");
  const ProcessResult ask =
      Ask(server, scratch, "Which is the southernmost active volcano?", {"--k=2"});
  INFO(ask.output);
  REQUIRE(ask.exit_code == 0);
  CHECK(ask.output.find("Mount Erebus is the southernmost active volcano [1].\n") == 0);
  const size_t sources = ask.output.find("\nSources:\n[1] About erebus (doc erebus, score ");
  CHECK(sources != std::string::npos);
  CHECK(ask.output.find("\n[2] ", sources) != std::string::npos);

  // The LLM was asked with the retrieved source in its prompt, numbered.
  const std::vector<Json> chats = RequestsTo(fake, "/v1/chat/completions");
  REQUIRE(chats.size() == 1);
  CHECK(chats[0]["model"] == "fake-model");
  std::string prompt;
  for (const Json& message : chats[0]["messages"]) prompt += message["content"].get<std::string>();
  CHECK(prompt.find("Mount Erebus on Ross Island is the southernmost active volcano") !=
        std::string::npos);
  CHECK(prompt.find("[1]") != std::string::npos);
  CHECK(prompt.find("Which is the southernmost active volcano?") != std::string::npos);

  SECTION("--json prints the final message with answer and citations") {
    fake.Enqueue(FakeReply::Stream({"Erebus [1]."}));
    const ProcessResult json = Ask(server, scratch, "Which volcano?", {"--k=2", "--json"});
    INFO(json.output);
    REQUIRE(json.exit_code == 0);
    const Json result = Json::parse(json.output);
    CHECK(result["answer"] == "Erebus [1].");
    CHECK(result["citations"].size() == 1);
    CHECK(result["sources"][0]["document_id"] == "erebus");
  }
}

TEST_CASE("quarry ask without an LLM answers extractively, cited", "[remote][ask]") {
  TestServer server;
  Client client(server.process());
  REQUIRE_OK(client.CreateCollection("geo"));
  REQUIRE_OK(client.Ingest("geo", GeographyDocs()));
  TempDir scratch("quarry-ask");
  const ProcessResult ask = Ask(server, scratch, "Which is the southernmost active volcano?");
  INFO(ask.output);
  REQUIRE(ask.exit_code == 0);
  const size_t sources = ask.output.find("\nSources:\n");
  REQUIRE(sources != std::string::npos);
  const std::string answer = ask.output.substr(0, sources);
  CHECK(answer.find("Mount Erebus on Ross Island is the southernmost active volcano on Earth.") !=
        std::string::npos);
  CHECK(answer.find("[1]") != std::string::npos);
  CHECK(ask.output.find("[1] About erebus (doc erebus", sources) != std::string::npos);
}

}  // namespace
}  // namespace quarry::testing
