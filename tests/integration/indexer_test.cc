// The sidecar indexer and two server replicas on one data directory, as real processes: writes
// through one replica are served by the other, the indexer's shards are swapped into both,
// replaced or deleted documents never come back, and searches running while generations are
// swapped in never fail.
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/test_support.h"

namespace quarry::testing {
namespace {

namespace v1 = quarry::v1;

// Runs `quarry-indexer watch --once` on the data directory; returns its exit status.
int RunIndexerOnce(const TestServer& server) {
  return RunIndexer(
      {"watch", "--once", "--data_dir=" + server.data_dir(), "--garbage_grace_seconds=0"},
      server.root().Join("indexer.log"));
}

v1::CollectionStats Stats(ServerProcess& server) {
  grpc::ClientContext context;
  v1::GetCollectionRequest request;
  request.set_name("docs");
  v1::Collection collection;
  // A replica that has not yet seen the collection answers NOT_FOUND: empty stats, poll again.
  if (!server.collections()->GetCollection(&context, request, &collection).ok()) return {};
  return collection.stats();
}

std::vector<std::string> LexicalIds(ServerProcess& server, const std::string& text) {
  grpc::ClientContext context;
  v1::SearchRequest request;
  request.set_collection("docs");
  request.set_text(text);
  request.mutable_options()->set_mode(v1::SEARCH_MODE_LEXICAL);
  request.mutable_options()->set_top_k(100);
  v1::SearchResponse response;
  std::vector<std::string> ids;
  if (!server.search()->Search(&context, request, &response).ok()) return ids;
  for (const v1::SearchHit& hit : response.hits()) ids.push_back(hit.document_id());
  return ids;
}

void Ingest(ServerProcess& server, const std::string& id, const std::string& text) {
  grpc::ClientContext context;
  v1::IngestRequest request;
  request.set_collection("docs");
  v1::Document* document = request.add_documents();
  document->set_id(id);
  document->set_text(text);
  v1::IngestResponse response;
  REQUIRE(server.documents()->Ingest(&context, request, &response).ok());
}

bool Has(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

TEST_CASE("two replicas and the indexer share one data directory", "[indexer]") {
  TestServer first;
  ServerConfig second_config;
  second_config.data_dir = first->config().data_dir;
  second_config.log_path = first.root().Join("second.log");
  ServerProcess second(second_config);

  {
    grpc::ClientContext context;
    v1::CreateCollectionRequest request;
    request.set_name("docs");
    request.mutable_spec()->set_dimension(64);
    v1::Collection collection;
    REQUIRE(first->collections()->CreateCollection(&context, request, &collection).ok());
  }
  for (int i = 0; i < 30; ++i) {
    Ingest(first.process(), "d" + std::to_string(i),
           "river valley report number " + std::to_string(i));
  }
  // Written through the first replica, served by the second.
  CHECK(Eventually([&] { return LexicalIds(second, "river valley").size() == 30; }));

  REQUIRE(RunIndexerOnce(first) == 0);
  for (ServerProcess* server : {&first.process(), &second}) {
    CHECK(Eventually([&] {
      const v1::CollectionStats stats = Stats(*server);
      return stats.shards() == 1 && stats.fresh_chunks() == 0 && stats.documents() == 30;
    }));
  }

  // Replace and delete documents that now live in the shard, through the second replica.
  Ingest(second, "d0", "mountain glacier survey");
  {
    grpc::ClientContext context;
    v1::DeleteDocumentsRequest request;
    request.set_collection("docs");
    request.add_ids("d1");
    v1::DeleteDocumentsResponse response;
    REQUIRE(second.documents()->DeleteDocuments(&context, request, &response).ok());
    CHECK(response.deleted() == 1);
  }
  auto settled = [&](ServerProcess& server) {
    const std::vector<std::string> river = LexicalIds(server, "river valley");
    const std::vector<std::string> glacier = LexicalIds(server, "mountain glacier");
    return river.size() == 28 && !Has(river, "d0") && !Has(river, "d1") && glacier.size() == 1 &&
           glacier[0] == "d0" && Stats(server).documents() == 29;
  };
  CHECK(Eventually([&] { return settled(first.process()); }));

  // The next shard carries the new copy; the old ones stay hidden on both replicas.
  REQUIRE(RunIndexerOnce(first) == 0);
  for (ServerProcess* server : {&first.process(), &second}) {
    CHECK(Eventually([&] { return Stats(*server).shards() == 2 && settled(*server); }));
  }

  // A restarted replica rebuilds the same state from the directory alone.
  REQUIRE(second.Stop() == 0);
  second.Restart();
  CHECK(settled(second));
  CHECK(Stats(second).generation() == 2);
}

TEST_CASE("searches never fail or see deleted documents while generations are swapped in",
          "[indexer][swap]") {
  TestServer server;
  Client client(server.process());
  v1::CollectionSpec spec;
  spec.set_dimension(64);
  REQUIRE_OK(client.CreateCollection("docs", spec));
  auto text = [](int i) { return "river valley report number " + std::to_string(i); };
  int next_id = 0;
  for (; next_id < 30; ++next_id) {
    REQUIRE_OK(client.Ingest("docs", {Doc("d" + std::to_string(next_id), text(next_id))}));
  }

  // Two clients search all along; every hit is checked against the deletes acknowledged
  // before the search was sent. At least 10 documents match at all times, so top_k is filled.
  constexpr int kTopK = 10;
  std::mutex mutex;
  std::set<std::string> deleted;  // acknowledged
  std::vector<std::string> problems;
  std::atomic<bool> done{false};
  std::atomic<int> searches{0};
  auto search_loop = [&] {
    Client searcher(server.process());
    while (!done.load()) {
      std::set<std::string> deleted_before;
      {
        std::lock_guard lock(mutex);
        deleted_before = deleted;
      }
      v1::SearchResponse response;
      const grpc::Status status = searcher.Search(
          TextQuery("docs", "river valley report", v1::SEARCH_MODE_HYBRID, kTopK), &response);
      std::lock_guard lock(mutex);
      if (!status.ok()) {
        problems.push_back("search failed: " + Describe(status));
        continue;
      }
      if (response.hits_size() != kTopK) {
        problems.push_back("top_k not filled: " + std::to_string(response.hits_size()) + " hits");
      }
      for (const v1::SearchHit& hit : response.hits()) {
        if (deleted_before.count(hit.document_id()) != 0) {
          problems.push_back("deleted document served: " + hit.document_id());
        }
      }
      ++searches;
    }
  };
  std::thread first_searcher(search_loop);
  std::thread second_searcher(search_loop);

  // Several generations: new documents, deletes of indexed ones, then the indexer (which also
  // merges) publishes and the server swaps the generation in.
  int oldest_live = 0;
  int64_t generation = 0;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 5; ++i, ++next_id) {
      REQUIRE_OK(client.Ingest("docs", {Doc("d" + std::to_string(next_id), text(next_id))}));
    }
    for (int i = 0; i < 3; ++i, ++oldest_live) {
      const std::string id = "d" + std::to_string(oldest_live);
      REQUIRE_OK(client.DeleteDocuments("docs", {id}));
      std::lock_guard lock(mutex);
      deleted.insert(id);
    }
    REQUIRE(RunIndexer({"watch", "--once", "--data_dir=" + server.data_dir(),
                        "--garbage_grace_seconds=0", "--merge_min_shards=2"},
                       server.root().Join("indexer.log")) == 0);
    CHECK(Eventually([&] {
      v1::Collection collection;
      if (!client.GetCollection("docs", &collection).ok()) return false;
      const v1::CollectionStats& stats = collection.stats();
      if (stats.fresh_chunks() != 0 || stats.generation() <= generation) return false;
      generation = stats.generation();
      return true;
    }));
  }
  done = true;
  first_searcher.join();
  second_searcher.join();
  INFO(Join(problems));
  CHECK(problems.empty());
  CHECK(searches.load() > 0);
}

}  // namespace
}  // namespace quarry::testing
