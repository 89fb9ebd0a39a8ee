// The sidecar indexer and two server replicas on one data directory, as real processes: writes
// through one replica are served by the other, the indexer's shards are swapped into both, and
// replaced or deleted documents never come back.
#include <spawn.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/server_process.h"

extern char** environ;

namespace quarry::testing {
namespace {

namespace v1 = quarry::v1;

// Runs `quarry-indexer watch --once` on the data directory; returns its exit status.
int RunIndexerOnce(const std::string& data_dir) {
  std::vector<std::string> arguments = {QUARRY_INDEXER_BINARY, "watch", "--once",
                                        "--data_dir=" + data_dir, "--garbage_grace_seconds=0",
                                        "--metrics_address="};
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Polls `condition` until it holds or 10 s pass: replicas pick up changes on their refresh tick.
bool Eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
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

  REQUIRE(RunIndexerOnce(first->config().data_dir) == 0);
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
  REQUIRE(RunIndexerOnce(first->config().data_dir) == 0);
  for (ServerProcess* server : {&first.process(), &second}) {
    CHECK(Eventually([&] { return Stats(*server).shards() == 2 && settled(*server); }));
  }

  // A restarted replica rebuilds the same state from the directory alone.
  REQUIRE(second.Stop() == 0);
  second.Restart();
  CHECK(settled(second));
  CHECK(Stats(second).generation() == 2);
}

}  // namespace
}  // namespace quarry::testing
