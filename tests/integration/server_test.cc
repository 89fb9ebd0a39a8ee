// Integration tests: the real quarry-server binary on 127.0.0.1 (ephemeral port), called
// through the generated quarry.v1 and grpc.health.v1 stubs.
#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/integration/server_process.h"
#include "tests/integration/test_support.h"

namespace quarry::testing {
namespace {

namespace fs = std::filesystem;

// Six documents on unrelated topics, each with words no other one has.
struct TopicDoc {
  const char* id;
  const char* title;
  const char* text;
};

constexpr TopicDoc kTopics[] = {
    {"volcano", "Volcanoes",
     "Volcanic eruptions eject molten lava, ash and sulfur dioxide high into the atmosphere. "
     "Magma chambers beneath the crater feed each eruption."},
    {"bread", "Sourdough",
     "Sourdough bread rises slowly because wild yeast and lactobacilli ferment the dough. "
     "Bakers keep a starter culture alive by feeding it flour and water."},
    {"orbit", "Orbits",
     "Satellites in geostationary orbit circle the Earth once per sidereal day, hovering above "
     "one point on the equator."},
    {"chess", "Chess rules",
     "In chess, castling moves the king two squares toward a rook, and the rook jumps over the "
     "king. A pawn reaching the last rank is promoted."},
    {"violin", "Violins",
     "A violin has four strings tuned in perfect fifths and is played with a horsehair bow "
     "drawn across the strings."},
    {"bees", "Honey bees",
     "Honey bees communicate the location of flowers to their hive mates with a waggle dance. "
     "Foragers collect nectar and pollen."},
};

struct TopicQuery {
  const char* text;
  const char* expected_id;
};

constexpr TopicQuery kTopicQueries[] = {
    {"molten lava and ash from a volcanic eruption", "volcano"},
    {"wild yeast ferment sourdough dough", "bread"},
    {"how do honey bees tell hive mates where flowers are", "bees"},
    {"castling the king toward a rook in chess", "chess"},
    {"violin strings and bow", "violin"},
};

std::vector<v1::Document> TopicDocuments() {
  std::vector<v1::Document> documents;
  int position = 0;
  for (const TopicDoc& topic : kTopics) {
    documents.push_back(Doc(topic.id, topic.text, topic.title,
                            {{"topic", std::string(topic.id)},
                             {"position", static_cast<double>(position)},
                             {"even", position % 2 == 0}}));
    ++position;
  }
  return documents;
}

v1::CollectionStats Stats(Client& client, const std::string& name) {
  v1::Collection collection;
  REQUIRE_OK(client.GetCollection(name, &collection));
  return collection.stats();
}

v1::SearchResponse MustSearch(Client& client, const v1::SearchRequest& request) {
  v1::SearchResponse response;
  INFO("search request: " << request.ShortDebugString());
  REQUIRE_OK(client.Search(request, &response));
  return response;
}

std::string HitsToString(const v1::SearchResponse& response) {
  std::ostringstream out;
  for (const v1::SearchHit& hit : response.hits()) {
    out << hit.chunk_id() << " (" << hit.score() << ")\n";
  }
  return out.str();
}

v1::CollectionSpec NoEmbedderSpec(int dimension) {
  v1::CollectionSpec spec;
  spec.set_dimension(dimension);
  spec.mutable_embedder()->set_kind(v1::EMBEDDER_KIND_NONE);
  return spec;
}

std::vector<float> Basis(int dimension, int axis, float other = 0.0f) {
  std::vector<float> vector(static_cast<size_t>(dimension), other);
  vector[static_cast<size_t>(axis)] = 1.0f;
  return vector;
}

// Every file and directory under `root` (except the server log), with file sizes.
std::string FileTree(const std::string& root) {
  std::ostringstream out;
  std::vector<std::string> lines;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(root)) {
    const std::string relative = fs::relative(entry.path(), root).string();
    if (relative == "server.log") continue;
    if (entry.is_directory()) {
      lines.push_back(relative + "/");
    } else {
      lines.push_back(relative + " " + std::to_string(entry.file_size()));
    }
  }
  std::sort(lines.begin(), lines.end());
  for (const std::string& line : lines) out << line << "\n";
  return out.str();
}

// ============================================================================================
// Health, collections, the basic cycle

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

grpc::Status CheckHealth(const ServerProcess& server, const std::string& service,
                         HealthCheckResponse* response) {
  HealthCheckRequest request;
  request.set_service(service);
  grpc::ClientContext context;
  SetDeadline(context);
  return server.health()->Check(&context, request, response);
}

TEST_CASE("health check reports SERVING for the server and each quarry.v1 service", "[health]") {
  TestServer server;
  for (const std::string service :
       {"", "quarry.v1.CollectionService", "quarry.v1.DocumentService", "quarry.v1.SearchService",
        "quarry.v1.GenerationService"}) {
    INFO("service: " << service);
    HealthCheckResponse response;
    REQUIRE_OK(CheckHealth(server.process(), service, &response));
    CHECK(response.status() == HealthCheckResponse::SERVING);
  }
  HealthCheckResponse unknown;
  QUARRY_CHECK_STATUS(CheckHealth(server.process(), "quarry.v1.Nope", &unknown),
                      grpc::StatusCode::NOT_FOUND);
}

TEST_CASE("health Watch streams SERVING, then NOT_SERVING when the server stops", "[health]") {
  TestServer server;
  auto health = server->health();
  HealthCheckRequest request;
  request.set_service("quarry.v1.SearchService");
  grpc::ClientContext context;
  SetDeadline(context);
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> watch = health->Watch(&context, request);
  HealthCheckResponse response;
  REQUIRE(watch->Read(&response));
  CHECK(response.status() == HealthCheckResponse::SERVING);

  SECTION("an unknown service is SERVICE_UNKNOWN") {
    HealthCheckRequest unknown_request;
    unknown_request.set_service("quarry.v1.Nope");
    grpc::ClientContext unknown_context;
    SetDeadline(unknown_context);
    auto unknown = health->Watch(&unknown_context, unknown_request);
    REQUIRE(unknown->Read(&response));
    CHECK(response.status() == HealthCheckResponse::SERVICE_UNKNOWN);
    unknown_context.TryCancel();
    CHECK(unknown->Finish().error_code() == grpc::StatusCode::CANCELLED);
  }
  // The open stream does not hold the shutdown up: the server says NOT_SERVING and ends it.
  CHECK(server.process().Stop() == 0);
  REQUIRE(watch->Read(&response));
  CHECK(response.status() == HealthCheckResponse::NOT_SERVING);
  CHECK_FALSE(watch->Read(&response));
  REQUIRE_OK(watch->Finish());
}

TEST_CASE("the server refuses to start with impossible search thread settings", "[flags]") {
  TempDir directory;
  ServerConfig config;
  config.data_dir = directory.Join("data");
  config.log_path = directory.Join("server.log");
  config.flags = {"--search_threads=-1"};
  CHECK_THROWS_WITH(ServerProcess(config), Catch::Contains("--search_threads must be >= 0"));
  config.flags = {"--remote_search_workers=0"};
  CHECK_THROWS_WITH(ServerProcess(config), Catch::Contains("--remote_search_workers >= 1"));
  config.flags = {"--search_poll_microseconds=-1"};
  CHECK_THROWS_WITH(ServerProcess(config),
                    Catch::Contains("--search_poll_microseconds must be in 0..10000, got -1"));
  config.flags = {"--search_poll_microseconds=10001"};
  CHECK_THROWS_WITH(ServerProcess(config),
                    Catch::Contains("--search_poll_microseconds must be in 0..10000, got 10001"));
  for (const char* bound : {"--search_poll_microseconds=0", "--search_poll_microseconds=10000"}) {
    config.flags = {bound};
    CHECK_NOTHROW(ServerProcess(config));
  }
}

TEST_CASE("SIGTERM under search load: every call in flight ends, the server exits cleanly",
          "[shutdown]") {
  TestServer server({"--shutdown_grace_seconds=0"});
  Client client(server.process());
  REQUIRE_OK(client.CreateCollection("docs"));
  REQUIRE_OK(client.Ingest("docs", {Doc("bees", "Bees pollinate flowers and make honey."),
                                    Doc("ants", "Ants farm aphids for their honeydew.")}));
  constexpr int kCallers = 6;  // more than the threads answering Search on a small machine
  std::atomic<int> answered{0};
  std::vector<std::vector<grpc::Status>> failures(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      Client own(server.process());
      while (true) {
        const grpc::Status status = own.Search(TextQuery("docs", "honey bees"));
        if (!status.ok()) {
          failures[i].push_back(status);
          return;
        }
        answered.fetch_add(1);
      }
    });
  }
  // Some searches through first, so the signal lands with calls in flight.
  while (answered.load() < 200) std::this_thread::yield();
  CHECK(server.process().Stop() == 0);
  for (std::thread& caller : callers) caller.join();
  for (const std::vector<grpc::Status>& ended : failures) {
    REQUIRE(ended.size() == 1);
    // Refused (the server is going away) or cut short: never an internal error or a crash.
    CHECK((ended[0].error_code() == grpc::StatusCode::UNAVAILABLE ||
           ended[0].error_code() == grpc::StatusCode::CANCELLED));
  }
}

TEST_CASE("create, ingest, search, delete, search cycle", "[cycle]") {
  TestServer server;
  Client client(server.process());

  v1::Collection created;
  REQUIRE_OK(client.CreateCollection("cycle", {}, &created));
  CHECK(created.name() == "cycle");
  // Defaults are filled in as documented in the proto.
  CHECK(created.spec().dimension() == 768);
  CHECK(created.spec().embedder().kind() == v1::EMBEDDER_KIND_BUILTIN);
  CHECK(created.spec().index_spec() == "HNSW32");
  CHECK(created.spec().chunking().target_tokens() == 256);
  CHECK(created.spec().chunking().overlap_tokens() == 32);
  CHECK(created.stats().documents() == 0);
  CHECK(created.create_time_unix() > 0);
  CHECK(fs::is_directory(fs::path(server.data_dir()) / "collections" / "cycle"));

  REQUIRE_OK(client.CreateCollection("another"));
  v1::ListCollectionsResponse list;
  REQUIRE_OK(client.ListCollections(&list));
  REQUIRE(list.collections_size() == 2);
  CHECK(list.collections(0).name() == "another");  // sorted by name
  CHECK(list.collections(1).name() == "cycle");

  // Ingest the topic documents plus one without an id (the server generates it).
  std::vector<v1::Document> documents = TopicDocuments();
  documents.push_back(Doc("", "An untitled note about lighthouses and foghorns on rocky coasts."));
  v1::IngestResponse ingested;
  REQUIRE_OK(client.Ingest("cycle", documents, &ingested));
  REQUIRE(ingested.ids_size() == static_cast<int>(documents.size()));
  for (size_t i = 0; i + 1 < documents.size(); ++i) {
    CHECK(ingested.ids(static_cast<int>(i)) == documents[i].id());
  }
  const std::string generated_id = ingested.ids(static_cast<int>(documents.size()) - 1);
  CHECK_FALSE(generated_id.empty());
  CHECK(ingested.chunks() >= static_cast<int64_t>(documents.size()));

  int64_t text_bytes = 0;
  for (const v1::Document& document : documents) text_bytes += static_cast<int64_t>(document.text().size());
  v1::CollectionStats stats = Stats(client, "cycle");
  CHECK(stats.documents() == static_cast<int64_t>(documents.size()));
  CHECK(stats.chunks() == ingested.chunks());
  CHECK(stats.text_bytes() == text_bytes);
  CHECK(stats.disk_bytes() > 0);
  CHECK(Stats(client, "another").documents() == 0);  // collections are separate tenants

  // Searchable as soon as Ingest returned.
  v1::SearchResponse response = MustSearch(client, TextQuery("cycle", "honey bees waggle dance"));
  REQUIRE(response.hits_size() > 0);
  const v1::SearchHit& top = response.hits(0);
  CHECK(top.document_id() == "bees");
  CHECK(top.chunk_id() == "bees#0");
  CHECK(top.chunk_index() == 0);
  CHECK(top.title() == "Honey bees");
  CHECK(top.text() == kTopics[5].text);  // short document: one chunk, all of it
  CHECK(top.start_offset() == 0);
  CHECK(top.end_offset() == static_cast<int>(std::string(kTopics[5].text).size()));
  CHECK(top.metadata().at("topic").string_value() == "bees");
  CHECK(top.metadata().at("position").number_value() == 5.0);
  CHECK(top.metadata().at("even").bool_value() == false);
  CHECK(response.mode() == v1::SEARCH_MODE_HYBRID);  // the default with an embedder

  // The generated id is a real document id.
  v1::Document fetched;
  REQUIRE_OK(client.GetDocument("cycle", generated_id, &fetched));
  CHECK(fetched.text() == documents.back().text());
  response = MustSearch(client, TextQuery("cycle", "lighthouses foghorns", v1::SEARCH_MODE_LEXICAL));
  REQUIRE(response.hits_size() >= 1);
  CHECK(response.hits(0).document_id() == generated_id);

  // omit_text leaves the text out.
  v1::SearchRequest omit = TextQuery("cycle", "honey bees");
  omit.set_omit_text(true);
  response = MustSearch(client, omit);
  REQUIRE(response.hits_size() > 0);
  CHECK(response.hits(0).text().empty());

  // Delete: only live ids count; the document disappears from every mode.
  v1::DeleteDocumentsResponse deleted;
  REQUIRE_OK(client.DeleteDocuments("cycle", {"bees", "no-such-document"}, &deleted));
  CHECK(deleted.deleted() == 1);
  for (v1::SearchMode mode :
       {v1::SEARCH_MODE_DENSE, v1::SEARCH_MODE_LEXICAL, v1::SEARCH_MODE_HYBRID}) {
    response = MustSearch(client, TextQuery("cycle", "honey bees waggle dance", mode, 100));
    INFO("mode " << v1::SearchMode_Name(mode) << " hits:\n" << HitsToString(response));
    CHECK_FALSE(Contains(DocumentIds(response), "bees"));
    if (mode != v1::SEARCH_MODE_LEXICAL) CHECK(response.hits_size() == 6);
  }
  // A lexical search for words only the deleted document had finds nothing.
  response = MustSearch(client, TextQuery("cycle", "waggle", v1::SEARCH_MODE_LEXICAL));
  CHECK(response.hits_size() == 0);
  QUARRY_CHECK_STATUS(client.GetDocument("cycle", "bees"), grpc::StatusCode::NOT_FOUND);
  stats = Stats(client, "cycle");
  CHECK(stats.documents() == static_cast<int64_t>(documents.size()) - 1);
  CHECK(stats.text_bytes() == text_bytes - static_cast<int64_t>(std::string(kTopics[5].text).size()));
  // Deletes are idempotent.
  REQUIRE_OK(client.DeleteDocuments("cycle", {"bees"}, &deleted));
  CHECK(deleted.deleted() == 0);
  // The other documents are still found.
  response = MustSearch(client, TextQuery("cycle", "castling the king"));
  REQUIRE(response.hits_size() > 0);
  CHECK(response.hits(0).document_id() == "chess");

  // Delete the collection: gone from the API and from the data directory.
  REQUIRE_OK(client.DeleteCollection("cycle"));
  QUARRY_CHECK_STATUS(client.GetCollection("cycle"), grpc::StatusCode::NOT_FOUND);
  QUARRY_CHECK_STATUS(client.Search(TextQuery("cycle", "chess")), grpc::StatusCode::NOT_FOUND);
  QUARRY_CHECK_STATUS(client.DeleteCollection("cycle"), grpc::StatusCode::NOT_FOUND);
  REQUIRE_OK(client.ListCollections(&list));
  REQUIRE(list.collections_size() == 1);
  CHECK(list.collections(0).name() == "another");
  CHECK_FALSE(fs::exists(fs::path(server.data_dir()) / "collections" / "cycle"));

  // The name can be reused, and the new collection starts empty.
  REQUIRE_OK(client.CreateCollection("cycle"));
  CHECK(Stats(client, "cycle").documents() == 0);
  response = MustSearch(client, TextQuery("cycle", "castling the king"));
  CHECK(response.hits_size() == 0);
}

TEST_CASE("upsert replaces a document", "[upsert]") {
  TestServer server;
  Client client(server.process());
  REQUIRE_OK(client.CreateCollection("upsert"));
  REQUIRE_OK(client.Ingest("upsert", TopicDocuments()));
  REQUIRE_OK(client.Ingest(
      "upsert", {Doc("doc-1", "The zyxwvut gearbox of a windmill grinds grain into flour.",
                     "Old title", {{"version", 1.0}, {"old_only", true}})}));
  const v1::CollectionStats before = Stats(client, "upsert");
  CHECK(before.documents() == 7);

  v1::SearchResponse response =
      MustSearch(client, TextQuery("upsert", "zyxwvut", v1::SEARCH_MODE_LEXICAL));
  REQUIRE(response.hits_size() == 1);
  CHECK(response.hits(0).document_id() == "doc-1");

  const std::string new_text =
      "Quokkas are small marsupials that live on Rottnest Island near Perth.";
  v1::IngestResponse ingested;
  REQUIRE_OK(client.Ingest("upsert", {Doc("doc-1", new_text, "New title", {{"version", 2.0}})},
                           &ingested));
  REQUIRE(ingested.ids_size() == 1);
  CHECK(ingested.ids(0) == "doc-1");

  // Same number of documents; the old text is gone, the new one is found.
  const v1::CollectionStats after = Stats(client, "upsert");
  CHECK(after.documents() == before.documents());
  CHECK(after.chunks() == before.chunks());
  response = MustSearch(client, TextQuery("upsert", "zyxwvut windmill gearbox", v1::SEARCH_MODE_LEXICAL));
  CHECK_FALSE(Contains(DocumentIds(response), "doc-1"));
  for (v1::SearchMode mode :
       {v1::SEARCH_MODE_DENSE, v1::SEARCH_MODE_LEXICAL, v1::SEARCH_MODE_HYBRID}) {
    response = MustSearch(client, TextQuery("upsert", "quokkas on Rottnest Island", mode, 100));
    INFO("mode " << v1::SearchMode_Name(mode) << " hits:\n" << HitsToString(response));
    REQUIRE(response.hits_size() >= 1);
    CHECK(response.hits(0).document_id() == "doc-1");
    CHECK(response.hits(0).text() == new_text);
    CHECK(response.hits(0).title() == "New title");
    // One document, one set of chunks: the id appears once.
    const std::vector<std::string> ids = DocumentIds(response);
    CHECK(std::count(ids.begin(), ids.end(), "doc-1") == 1);
  }

  v1::Document fetched;
  REQUIRE_OK(client.GetDocument("upsert", "doc-1", &fetched));
  CHECK(fetched.text() == new_text);
  CHECK(fetched.title() == "New title");
  CHECK(fetched.metadata().size() == 1);
  CHECK(fetched.metadata().at("version").number_value() == 2.0);
  CHECK(fetched.metadata().count("old_only") == 0);

  // Upserting within a batch next to new documents counts only the new ones.
  REQUIRE_OK(client.Ingest("upsert", {Doc("doc-1", "Third version of doc one about penguins."),
                                      Doc("doc-2", "A brand new document about glaciers.")}));
  CHECK(Stats(client, "upsert").documents() == before.documents() + 1);
}

TEST_CASE("GetDocument returns the stored document", "[documents]") {
  TestServer server;
  Client client(server.process());
  REQUIRE_OK(client.CreateCollection("docs"));
  const std::string text = "Über große Flüsse: the Rhine flows through six countries. 🚢";
  REQUIRE_OK(client.Ingest(
      "docs", {Doc("rhine", text, "Rivers of Europe",
                   {{"country", std::string("DE")}, {"length_km", 1230.5}, {"navigable", true}})}));

  v1::Document document;
  REQUIRE_OK(client.GetDocument("docs", "rhine", &document));
  CHECK(document.id() == "rhine");
  CHECK(document.title() == "Rivers of Europe");
  CHECK(document.text() == text);
  CHECK(document.vector_size() == 0);  // stored vectors are not returned
  REQUIRE(document.metadata().size() == 3);
  CHECK(document.metadata().at("country").string_value() == "DE");
  CHECK(document.metadata().at("length_km").number_value() == 1230.5);
  CHECK(document.metadata().at("navigable").bool_value() == true);

  QUARRY_CHECK_STATUS(client.GetDocument("docs", "danube"), grpc::StatusCode::NOT_FOUND);
  QUARRY_CHECK_STATUS(client.GetDocument("nope", "rhine"), grpc::StatusCode::NOT_FOUND);
}

// ============================================================================================
// Durability

// What a restart must preserve: collections (with specs and stats), documents, search results.
std::string ServedState(Client& client, const std::vector<std::string>& document_ids) {
  std::ostringstream out;
  v1::ListCollectionsResponse list;
  REQUIRE_OK(client.ListCollections(&list));
  for (const v1::Collection& collection : list.collections()) {
    out << "collection " << collection.name() << " created " << collection.create_time_unix()
        << " spec {" << collection.spec().ShortDebugString() << "} documents "
        << collection.stats().documents() << " chunks " << collection.stats().chunks()
        << " text_bytes " << collection.stats().text_bytes() << "\n";
  }
  for (const std::string& id : document_ids) {
    v1::Document document;
    const grpc::Status status = client.GetDocument("durable", id, &document);
    out << "document " << id << ": " << CodeName(status.error_code()) << " "
        << document.ShortDebugString() << "\n";
  }
  for (const TopicQuery& query : kTopicQueries) {
    for (v1::SearchMode mode :
         {v1::SEARCH_MODE_DENSE, v1::SEARCH_MODE_LEXICAL, v1::SEARCH_MODE_HYBRID}) {
      const v1::SearchResponse response =
          MustSearch(client, TextQuery("durable", query.text, mode, 5));
      out << "search '" << query.text << "' " << v1::SearchMode_Name(mode) << ": "
          << Join(ChunkIds(response)) << "\n";
    }
  }
  const v1::SearchResponse vectors = MustSearch(client, VectorQuery("durable-vectors", Basis(8, 3), 3));
  out << "vector search: " << Join(ChunkIds(vectors)) << "\n";
  return out.str();
}

TEST_CASE("restart after SIGTERM keeps everything", "[restart]") {
  TestServer server;
  auto client = std::make_unique<Client>(server.process());
  REQUIRE_OK(client->CreateCollection("durable"));
  REQUIRE_OK(client->CreateCollection("durable-vectors", NoEmbedderSpec(8)));
  REQUIRE_OK(client->CreateCollection("empty"));
  REQUIRE_OK(client->Ingest("durable", TopicDocuments()));
  REQUIRE_OK(client->Ingest("durable", {Doc("extra", "A note about tide pools and starfish.")}));
  REQUIRE_OK(client->DeleteDocuments("durable", {"violin"}));
  REQUIRE_OK(client->Ingest("durable", {Doc("chess", "Chess openings: the Sicilian defence and "
                                                     "the Ruy Lopez, with castling early.",
                                            "Chess openings", {{"rev", 2.0}})}));
  std::vector<v1::Document> vectors;
  for (int i = 0; i < 8; ++i) {
    vectors.push_back(VectorDoc("v" + std::to_string(i), "vector " + std::to_string(i),
                                Basis(8, i, 0.1f)));
  }
  REQUIRE_OK(client->Ingest("durable-vectors", vectors));

  const std::vector<std::string> ids = {"volcano", "bread", "orbit", "chess",
                                        "violin",  "bees",  "extra"};
  const std::string before = ServedState(*client, ids);
  CHECK(before.find("document violin: NOT_FOUND") != std::string::npos);
  CHECK(before.find("Chess openings") != std::string::npos);

  client.reset();
  CHECK(server->Stop(SIGTERM) == 0);
  server->Restart();
  client = std::make_unique<Client>(server.process());
  CHECK(ServedState(*client, ids) == before);

  // The reopened log accepts new writes, which survive the next restart (SIGINT this time).
  REQUIRE_OK(client->Ingest("durable", {Doc("after", "Written after the first restart: comets.")}));
  REQUIRE_OK(client->DeleteDocuments("durable", {"extra"}));
  const std::vector<std::string> more_ids = {"volcano", "bread", "orbit", "chess", "violin",
                                             "bees",    "extra", "after"};
  const std::string second = ServedState(*client, more_ids);
  client.reset();
  CHECK(server->Stop(SIGINT) == 0);
  server->Restart();
  client = std::make_unique<Client>(server.process());
  CHECK(ServedState(*client, more_ids) == second);
  v1::Document after;
  REQUIRE_OK(client->GetDocument("durable", "after", &after));
  QUARRY_CHECK_STATUS(client->GetDocument("durable", "extra"), grpc::StatusCode::NOT_FOUND);
  CHECK(server->Stop() == 0);
}

TEST_CASE("kill -9 keeps every acknowledged write", "[restart][kill]") {
  TestServer server;
  {
    Client client(server.process());
    REQUIRE_OK(client.CreateCollection("durable"));
  }

  // A writer thread ingests batches (and deletes a document now and then) as fast as it can;
  // the main thread kills the server once enough writes were acknowledged.
  constexpr int kBatchSize = 5;
  constexpr int kAcknowledgedBeforeKill = 30;
  struct Shared {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<int> acknowledged_batches;
    std::set<std::string> acknowledged_deletes;
    int in_flight_batch = -1;             // a batch sent but not acknowledged
    std::string in_flight_delete;         // a delete sent but not acknowledged
    grpc::Status final_status;
    bool done = false;
  } shared;
  auto batch_id = [](int batch, int j) {
    return "b" + std::to_string(batch) + "-d" + std::to_string(j);
  };
  auto batch_text = [](int batch, int j) {
    return "Batch " + std::to_string(batch) + " document " + std::to_string(j) +
           " records sensor reading " + std::to_string(batch * 31 + j) + " from station alpha.";
  };

  std::thread writer([&, channel_client = std::make_unique<Client>(server.process())] {
    Client& client = *channel_client;
    for (int batch = 0;; ++batch) {
      std::vector<v1::Document> documents;
      for (int j = 0; j < kBatchSize; ++j) documents.push_back(Doc(batch_id(batch, j), batch_text(batch, j)));
      {
        std::lock_guard lock(shared.mutex);
        shared.in_flight_batch = batch;
      }
      grpc::Status status = client.Ingest("durable", documents);
      std::unique_lock lock(shared.mutex);
      if (!status.ok()) {
        shared.final_status = status;
        shared.done = true;
        shared.changed.notify_all();
        return;
      }
      shared.acknowledged_batches.push_back(batch);
      shared.in_flight_batch = -1;
      shared.changed.notify_all();
      if (batch % 4 == 3) {
        // Delete the first document of the previous batch.
        const std::string id = batch_id(batch - 1, 0);
        shared.in_flight_delete = id;
        lock.unlock();
        status = client.DeleteDocuments("durable", {id});
        lock.lock();
        if (!status.ok()) {
          shared.final_status = status;
          shared.done = true;
          shared.changed.notify_all();
          return;
        }
        shared.acknowledged_deletes.insert(id);
        shared.in_flight_delete.clear();
      }
      if (batch > 100000) return;  // never reached: the server is killed long before
    }
  });

  {
    std::unique_lock lock(shared.mutex);
    const bool enough = shared.changed.wait_for(lock, std::chrono::seconds(300), [&] {
      return shared.done ||
             static_cast<int>(shared.acknowledged_batches.size()) >= kAcknowledgedBeforeKill;
    });
    INFO("writer status: " << Describe(shared.final_status));
    CHECK(enough);
    CHECK_FALSE(shared.done);  // the writer must not have failed before the kill
  }
  server->Kill();
  writer.join();
  INFO("writer ended with " << Describe(shared.final_status));
  CHECK_FALSE(shared.final_status.ok());
  REQUIRE(static_cast<int>(shared.acknowledged_batches.size()) >= kAcknowledgedBeforeKill);

  server->Restart();
  Client client(server.process());
  int64_t expected_live = 0;
  for (int batch : shared.acknowledged_batches) {
    for (int j = 0; j < kBatchSize; ++j) {
      const std::string id = batch_id(batch, j);
      v1::Document document;
      const grpc::Status status = client.GetDocument("durable", id, &document);
      if (shared.acknowledged_deletes.count(id) != 0) {
        INFO("acknowledged delete of " << id);
        CHECK(status.error_code() == grpc::StatusCode::NOT_FOUND);
      } else if (id == shared.in_flight_delete) {
        // Either outcome is fine for a delete that was never acknowledged.
        if (status.ok()) ++expected_live;
      } else {
        INFO("acknowledged document " << id << ": " << Describe(status));
        CHECK(status.ok());
        CHECK(document.text() == batch_text(batch, j));
        ++expected_live;
      }
    }
  }
  // The batch in flight at the kill is atomic: all of it or none of it.
  if (shared.in_flight_batch >= 0) {
    int present = 0;
    for (int j = 0; j < kBatchSize; ++j) {
      if (client.GetDocument("durable", batch_id(shared.in_flight_batch, j)).ok()) ++present;
    }
    INFO("documents of the unacknowledged batch " << shared.in_flight_batch << " present: " << present);
    CHECK((present == 0 || present == kBatchSize));
    expected_live += present;
  }
  CHECK(Stats(client, "durable").documents() == expected_live);

  // And the recovered collection is searchable and writable.
  const v1::SearchResponse response =
      MustSearch(client, TextQuery("durable", batch_text(2, 3), v1::SEARCH_MODE_LEXICAL, 3));
  REQUIRE(response.hits_size() >= 1);
  CHECK(response.hits(0).document_id() == batch_id(2, 3));
  REQUIRE_OK(client.Ingest("durable", {Doc("after-crash", "Written after recovery.")}));
  CHECK(server->Stop() == 0);
}

// ============================================================================================
// Streaming ingest

v1::IngestStreamRequest StreamMessage(const std::string& collection, int message, int count,
                                      const std::string& prefix = "s") {
  v1::IngestStreamRequest request;
  request.set_collection(collection);
  for (int j = 0; j < count; ++j) {
    *request.add_documents() =
        Doc(prefix + std::to_string(message) + "-" + std::to_string(j),
            "Streamed record " + std::to_string(message) + "/" + std::to_string(j) +
                " describes parcel " + std::to_string(message * 100 + j) + " shipped by rail.");
  }
  return request;
}

TEST_CASE("IngestStream commits each message as a batch", "[stream]") {
  TestServer server;
  Client client(server.process());
  REQUIRE_OK(client.CreateCollection("stream"));

  SECTION("a whole stream") {
    std::vector<v1::IngestStreamRequest> messages;
    for (int m = 0; m < 5; ++m) {
      messages.push_back(StreamMessage(m == 0 || m == 2 ? "stream" : "", m, 20));
    }
    v1::IngestStreamResponse response;
    REQUIRE_OK(client.IngestStream(messages, &response));
    CHECK(response.documents() == 100);
    CHECK(response.chunks() >= 100);
    const v1::CollectionStats stats = Stats(client, "stream");
    CHECK(stats.documents() == 100);
    CHECK(stats.chunks() == response.chunks());
    v1::Document document;
    REQUIRE_OK(client.GetDocument("stream", "s3-7", &document));
    const v1::SearchResponse hits =
        MustSearch(client, TextQuery("stream", "parcel 307", v1::SEARCH_MODE_LEXICAL, 3));
    REQUIRE(hits.hits_size() >= 1);
    CHECK(hits.hits(0).document_id() == "s3-7");
  }

  SECTION("an invalid message ends the stream; earlier messages stay committed") {
    std::vector<v1::IngestStreamRequest> messages = {
        StreamMessage("stream", 0, 20), StreamMessage("", 1, 20), StreamMessage("", 2, 20),
        StreamMessage("", 3, 20)};
    messages[2].mutable_documents(5)->set_text("");
    v1::IngestStreamResponse response;
    const grpc::Status status = client.IngestStream(messages, &response);
    INFO(Describe(status));
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    // The message says how much was committed.
    CHECK(status.error_message().find("40") != std::string::npos);
    CHECK(Stats(client, "stream").documents() == 40);
    CHECK(client.GetDocument("stream", "s1-19").ok());
    QUARRY_CHECK_STATUS(client.GetDocument("stream", "s2-0"), grpc::StatusCode::NOT_FOUND);
    QUARRY_CHECK_STATUS(client.GetDocument("stream", "s3-0"), grpc::StatusCode::NOT_FOUND);
    // Re-sending the corrected stream is safe (upserts).
    messages[2].mutable_documents(5)->set_text("Corrected.");
    REQUIRE_OK(client.IngestStream(messages, &response));
    CHECK(Stats(client, "stream").documents() == 80);
  }

  SECTION("a later message naming another collection is INVALID_ARGUMENT") {
    REQUIRE_OK(client.CreateCollection("other"));
    const std::vector<v1::IngestStreamRequest> messages = {StreamMessage("stream", 0, 10),
                                                           StreamMessage("other", 1, 10)};
    QUARRY_CHECK_STATUS(client.IngestStream(messages), grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Stats(client, "stream").documents() == 10);
    CHECK(Stats(client, "other").documents() == 0);
  }

  SECTION("an unknown collection is NOT_FOUND") {
    QUARRY_CHECK_STATUS(client.IngestStream({StreamMessage("missing", 0, 3)}),
                        grpc::StatusCode::NOT_FOUND);
    QUARRY_CHECK_STATUS(client.GetCollection("missing"), grpc::StatusCode::NOT_FOUND);
  }
}

// ============================================================================================
// Search

TEST_CASE("each search mode finds the relevant document", "[search]") {
  TestServer server;
  Client client(server.process());
  REQUIRE_OK(client.CreateCollection("modes"));
  REQUIRE_OK(client.Ingest("modes", TopicDocuments()));

  for (const TopicQuery& query : kTopicQueries) {
    for (v1::SearchMode mode :
         {v1::SEARCH_MODE_DENSE, v1::SEARCH_MODE_LEXICAL, v1::SEARCH_MODE_HYBRID}) {
      const v1::SearchResponse response = MustSearch(client, TextQuery("modes", query.text, mode, 3));
      INFO("query '" << query.text << "' mode " << v1::SearchMode_Name(mode) << " hits:\n"
                     << HitsToString(response));
      CHECK(response.mode() == mode);
      REQUIRE(response.hits_size() >= 1);
      CHECK(response.hits_size() <= 3);
      CHECK(response.hits(0).document_id() == query.expected_id);
      for (int i = 1; i < response.hits_size(); ++i) {
        CHECK(response.hits(i - 1).score() >= response.hits(i).score());
      }
      const v1::SearchHit& top = response.hits(0);
      if (mode == v1::SEARCH_MODE_DENSE) CHECK(top.has_dense_score());
      if (mode == v1::SEARCH_MODE_LEXICAL) CHECK(top.has_lexical_score());
      if (mode == v1::SEARCH_MODE_HYBRID) {
        CHECK(top.has_dense_score());
        CHECK(top.has_lexical_score());
      }
    }
  }

  // Dense retrieval works without shared words too (character n-grams): "volcanoes".
  v1::SearchResponse response =
      MustSearch(client, TextQuery("modes", "volcanoes erupting", v1::SEARCH_MODE_DENSE, 1));
  REQUIRE(response.hits_size() == 1);
  CHECK(response.hits(0).document_id() == "volcano");

  // Lexical mode returns only documents with a query term.
  response = MustSearch(client, TextQuery("modes", "waggle", v1::SEARCH_MODE_LEXICAL, 10));
  REQUIRE(response.hits_size() == 1);
  CHECK(response.hits(0).document_id() == "bees");

  // top_k 0 means 10; dense mode returns top_k when there are that many chunks.
  REQUIRE_OK(client.Ingest("modes", {Doc("p1", "Penguins huddle together in Antarctic winters."),
                                     Doc("p2", "Emperor penguins incubate eggs on their feet."),
                                     Doc("p3", "Rockhopper penguins hop between boulders."),
                                     Doc("p4", "Penguins cannot fly but swim very fast."),
                                     Doc("p5", "Little blue penguins live in Australia."),
                                     Doc("p6", "Gentoo penguins build nests of pebbles.")}));
  response = MustSearch(client, TextQuery("modes", "penguins", v1::SEARCH_MODE_DENSE, 0));
  CHECK(response.hits_size() == 10);
  response = MustSearch(client, TextQuery("modes", "penguins", v1::SEARCH_MODE_HYBRID, 0));
  CHECK(response.hits_size() == 10);
  response = MustSearch(client, TextQuery("modes", "penguins", v1::SEARCH_MODE_DENSE, 12));
  CHECK(response.hits_size() == 12);
  response = MustSearch(client, TextQuery("modes", "penguins", v1::SEARCH_MODE_LEXICAL, 4));
  CHECK(response.hits_size() == 4);
  for (const v1::SearchHit& hit : response.hits()) CHECK(hit.document_id()[0] == 'p');
}

TEST_CASE("collections without an embedder take caller vectors", "[search][vectors]") {
  TestServer server;
  Client client(server.process());
  v1::Collection created;
  REQUIRE_OK(client.CreateCollection("vectors", NoEmbedderSpec(8), &created));
  CHECK(created.spec().dimension() == 8);
  CHECK(created.spec().embedder().kind() == v1::EMBEDDER_KIND_NONE);

  std::vector<v1::Document> documents;
  for (int i = 0; i < 8; ++i) {
    documents.push_back(VectorDoc("v" + std::to_string(i),
                                  "basis vector number " + std::to_string(i) +
                                      (i == 5 ? " with a marmalade label" : ""),
                                  Basis(8, i, 0.05f)));
  }
  v1::IngestResponse ingested;
  REQUIRE_OK(client.Ingest("vectors", documents, &ingested));
  CHECK(ingested.chunks() == 8);  // a document with a vector is one chunk

  for (int axis : {0, 3, 7}) {
    const v1::SearchResponse response = MustSearch(client, VectorQuery("vectors", Basis(8, axis), 3));
    INFO("axis " << axis << " hits:\n" << HitsToString(response));
    CHECK(response.mode() == v1::SEARCH_MODE_DENSE);
    REQUIRE(response.hits_size() == 3);
    CHECK(response.hits(0).document_id() == "v" + std::to_string(axis));
  }
  // Text queries use lexical search.
  v1::SearchResponse response = MustSearch(client, TextQuery("vectors", "marmalade"));
  CHECK(response.mode() == v1::SEARCH_MODE_LEXICAL);
  REQUIRE(response.hits_size() == 1);
  CHECK(response.hits(0).document_id() == "v5");
  // ...and cannot be served densely.
  QUARRY_CHECK_STATUS(client.Search(TextQuery("vectors", "marmalade", v1::SEARCH_MODE_DENSE)),
                      grpc::StatusCode::FAILED_PRECONDITION);
  QUARRY_CHECK_STATUS(client.Search(TextQuery("vectors", "marmalade", v1::SEARCH_MODE_HYBRID)),
                      grpc::StatusCode::FAILED_PRECONDITION);
}

// --- Metadata filters ------------------------------------------------------------------------

constexpr int kFilterDocuments = 300;
const char* const kCategories[] = {"news", "blog", "paper", "wiki"};
const std::set<int> kRare = {7, 77, 133, 190, 250, 299};
const char* const kSubjects[] = {"rivers", "mountains", "forests", "deserts", "oceans", "cities"};

struct FilterDoc {
  int number;
  std::optional<std::string> category;
  double year;
  bool published;
  bool rare;
};

FilterDoc MakeFilterDoc(int i) {
  FilterDoc doc;
  doc.number = i;
  if (i % 10 != 9) doc.category = kCategories[i % 4];
  doc.year = 1900 + i;
  doc.published = i % 3 == 0;
  doc.rare = kRare.count(i) != 0;
  return doc;
}

v1::Document FilterDocument(const FilterDoc& doc) {
  std::map<std::string, Value> metadata = {{"year", doc.year}, {"published", doc.published}};
  if (doc.category) metadata["category"] = *doc.category;
  if (doc.rare) metadata["rare"] = std::string("yes");
  const int i = doc.number;
  return Doc("f" + std::to_string(i),
             "Field report " + std::to_string(i) + " on " + kSubjects[i % 6] + " and " +
                 kSubjects[(i / 6) % 6] + ", observed in season " + std::to_string(i % 4) + ".",
             "Report " + std::to_string(i), metadata);
}

struct FilterCase {
  std::string name;
  v1::Filter filter;
  std::function<bool(const FilterDoc&)> matches;
};

std::vector<FilterCase> FilterCases() {
  return {
      {"equals string", Equals("category", std::string("paper")),
       [](const FilterDoc& d) { return d.category == "paper"; }},
      {"equals bool", Equals("published", true), [](const FilterDoc& d) { return d.published; }},
      {"equals number", Equals("year", 2000.0), [](const FilterDoc& d) { return d.year == 2000; }},
      {"equals rare (6 of 300)", Equals("rare", std::string("yes")),
       [](const FilterDoc& d) { return d.rare; }},
      {"in", In("category", {std::string("news"), std::string("wiki")}),
       [](const FilterDoc& d) { return d.category == "news" || d.category == "wiki"; }},
      {"range gte/lt", Range("year", Bounds().Gte(2000).Lt(2050)),
       [](const FilterDoc& d) { return d.year >= 2000 && d.year < 2050; }},
      {"range gt", Range("year", Bounds().Gt(2190)), [](const FilterDoc& d) { return d.year > 2190; }},
      {"range lte", Range("year", Bounds().Lte(1905)), [](const FilterDoc& d) { return d.year <= 1905; }},
      {"all", All({Equals("published", true), Range("year", Bounds().Gte(2100))}),
       [](const FilterDoc& d) { return d.published && d.year >= 2100; }},
      {"any", Any({Equals("category", std::string("blog")), Equals("rare", std::string("yes"))}),
       [](const FilterDoc& d) { return d.category == "blog" || d.rare; }},
      {"not (matches documents without the field)", Not(Equals("category", std::string("news"))),
       [](const FilterDoc& d) { return d.category != "news"; }},
      {"nested", Not(Any({Equals("published", true), In("category", {std::string("paper")})})),
       [](const FilterDoc& d) { return !(d.published || d.category == "paper"); }},
      {"all/any/not combined",
       All({Any({Equals("category", std::string("news")), Equals("category", std::string("blog"))}),
            Not(Range("year", Bounds().Lt(2000))), Equals("published", false)}),
       [](const FilterDoc& d) {
         return (d.category == "news" || d.category == "blog") && d.year >= 2000 && !d.published;
       }},
      {"no match", Equals("category", std::string("podcast")), [](const FilterDoc&) { return false; }},
      {"type mismatch never matches", Equals("year", std::string("2000")),
       [](const FilterDoc&) { return false; }},
      {"range on a string field never matches", Range("category", Bounds().Gte(0)),
       [](const FilterDoc&) { return false; }},
  };
}

TEST_CASE("metadata filters return only matching documents", "[search][filter]") {
  TestServer server;
  Client client(server.process());
  REQUIRE_OK(client.CreateCollection("filters"));
  std::vector<FilterDoc> docs;
  for (int start = 0; start < kFilterDocuments; start += 100) {
    std::vector<v1::Document> batch;
    for (int i = start; i < start + 100; ++i) {
      docs.push_back(MakeFilterDoc(i));
      batch.push_back(FilterDocument(docs.back()));
    }
    REQUIRE_OK(client.Ingest("filters", batch));
  }
  REQUIRE(Stats(client, "filters").chunks() == kFilterDocuments);  // one chunk each

  for (const FilterCase& filter_case : FilterCases()) {
    std::set<std::string> expected;
    for (const FilterDoc& doc : docs) {
      if (filter_case.matches(doc)) expected.insert("f" + std::to_string(doc.number));
    }
    for (v1::SearchMode mode :
         {v1::SEARCH_MODE_DENSE, v1::SEARCH_MODE_LEXICAL, v1::SEARCH_MODE_HYBRID}) {
      for (int top_k : {5, 1000}) {
        // Every document contains "report", so every matching one is a lexical candidate.
        v1::SearchRequest request = TextQuery("filters", "field report on rivers", mode, top_k);
        *request.mutable_options()->mutable_filter() = filter_case.filter;
        const v1::SearchResponse response = MustSearch(client, request);
        INFO("filter '" << filter_case.name << "' mode " << v1::SearchMode_Name(mode)
                        << " top_k " << top_k << " (" << expected.size() << " match)");
        INFO("hits: " << Join(DocumentIds(response)));
        for (const v1::SearchHit& hit : response.hits()) {
          CHECK(expected.count(hit.document_id()) == 1);
        }
        // Filtering does not cut results short: top_k when enough match, else every match.
        CHECK(response.hits_size() == std::min<int>(top_k, static_cast<int>(expected.size())));
        if (top_k >= static_cast<int>(expected.size())) {
          const std::vector<std::string> ids = DocumentIds(response);
          CHECK(std::set<std::string>(ids.begin(), ids.end()) == expected);
        }
      }
    }
  }
}

// ============================================================================================
// Bad input: every bad request gets the documented code and changes nothing.

struct BadInputFixture {
  BadInputFixture()
      : server({"--max_document_bytes=1024", "--max_batch_documents=5",
                "--max_message_bytes=65536"}),
        client(server.process()) {
    REQUIRE_OK(client.CreateCollection("docs"));
    REQUIRE_OK(client.CreateCollection("vectors", NoEmbedderSpec(8)));
    std::vector<v1::Document> topics = TopicDocuments();
    REQUIRE_OK(client.Ingest("docs", std::vector<v1::Document>(topics.begin(), topics.begin() + 5)));
    REQUIRE_OK(client.Ingest("docs", {topics[5]}));
    REQUIRE_OK(client.Ingest("vectors", {VectorDoc("a", "first vector", Basis(8, 0)),
                                         VectorDoc("b", "second vector", Basis(8, 1))}));
    before = Snapshot();
  }

  // Collections with their stats, a few search results, and every file in the data directory
  // (and next to it) with its size.
  std::string Snapshot() {
    std::ostringstream out;
    v1::ListCollectionsResponse list;
    REQUIRE_OK(client.ListCollections(&list));
    for (const v1::Collection& collection : list.collections()) {
      out << "collection " << collection.name() << " " << collection.stats().ShortDebugString()
          << "\n";
    }
    out << "search: "
        << Join(ChunkIds(MustSearch(client, TextQuery("docs", "honey bees and volcanic lava", v1::SEARCH_MODE_HYBRID, 20))))
        << "\n";
    out << "files:\n" << FileTree(server.root().path());
    return out.str();
  }

  void CheckUnchanged() {
    INFO("nothing may change after a rejected request");
    CHECK(Snapshot() == before);
  }

  TestServer server;
  Client client;
  std::string before;
};

// The message must say what was wrong: it names the field (case-insensitive substring).
void CheckMessageMentions(const grpc::Status& status, std::string_view word) {
  INFO("status: " << Describe(status) << "; expected the message to mention '" << word << "'");
  CHECK(Lower(status.error_message()).find(Lower(word)) != std::string::npos);
}

#define CHECK_REJECTED(expression, expected_code, mentions)                  \
  do {                                                                       \
    const ::grpc::Status rejected_ = (expression);                           \
    INFO("call: " #expression);                                              \
    INFO("status: " << ::quarry::testing::Describe(rejected_));              \
    CHECK(rejected_.error_code() == (expected_code));                        \
    CheckMessageMentions(rejected_, mentions);                               \
  } while (false)

TEST_CASE_METHOD(BadInputFixture, "bad input: unknown collection is NOT_FOUND", "[bad]") {
  using grpc::StatusCode;
  CHECK_REJECTED(client.GetCollection("missing"), StatusCode::NOT_FOUND, "missing");
  CHECK_REJECTED(client.DeleteCollection("missing"), StatusCode::NOT_FOUND, "missing");
  CHECK_REJECTED(client.Ingest("missing", {Doc("x", "text")}), StatusCode::NOT_FOUND, "missing");
  CHECK_REJECTED(client.IngestStream({StreamMessage("missing", 0, 2)}), StatusCode::NOT_FOUND,
                 "missing");
  CHECK_REJECTED(client.DeleteDocuments("missing", {"bees"}), StatusCode::NOT_FOUND, "missing");
  CHECK_REJECTED(client.GetDocument("missing", "bees"), StatusCode::NOT_FOUND, "missing");
  CHECK_REJECTED(client.Search(TextQuery("missing", "bees")), StatusCode::NOT_FOUND, "missing");
  CHECK_REJECTED(client.GetDocument("docs", "no-such-id"), StatusCode::NOT_FOUND, "no-such-id");
  CheckUnchanged();
}

TEST_CASE_METHOD(BadInputFixture, "bad input: an existing name is ALREADY_EXISTS", "[bad]") {
  CHECK_REJECTED(client.CreateCollection("docs"), grpc::StatusCode::ALREADY_EXISTS, "docs");
  CHECK_REJECTED(client.CreateCollection("docs", NoEmbedderSpec(8)),
                 grpc::StatusCode::ALREADY_EXISTS, "docs");
  CHECK_REJECTED(client.CreateCollection("vectors"), grpc::StatusCode::ALREADY_EXISTS, "vectors");
  CheckUnchanged();
}


TEST_CASE_METHOD(BadInputFixture,
                 "bad input: invalid collection names are INVALID_ARGUMENT and touch no files",
                 "[bad]") {
  const std::string escape = "/tmp/quarry-it-escape-" + std::to_string(::getpid());
  const std::vector<std::string> names = {"../etc",
                                          "UPPER",
                                          "",
                                          "a/b",
                                          std::string(65, 'a'),
                                          "with space",
                                          "..",
                                          ".",
                                          ".hidden",
                                          "-leading-dash",
                                          "_leading_underscore",
                                          "caf\xc3\xa9",
                                          "tab\tname",
                                          std::string("nul\0byte", 8),
                                          escape,
                                          "a\\b",
                                          "docs/../vectors",
                                          "../data/collections/docs"};
  for (const std::string& name : names) {
    INFO("name '" << name << "'");
    CHECK_REJECTED(client.CreateCollection(name), grpc::StatusCode::INVALID_ARGUMENT, "name");
    // Other calls with such a name fail too, and never reach the filesystem.
    CHECK_FALSE(client.GetCollection(name).ok());
    CHECK_FALSE(client.DeleteCollection(name).ok());
    CHECK_FALSE(client.Ingest(name, {Doc("x", "text")}).ok());
  }
  CHECK_FALSE(fs::exists(escape));
  CheckUnchanged();

  // The edges of the valid set are accepted.
  for (const std::string& name : {std::string(64, 'a'), std::string("a"), std::string("0-start"),
                                  std::string("x_y-z9")}) {
    INFO("name '" << name << "'");
    CHECK_OK(client.CreateCollection(name));
  }
}

TEST_CASE_METHOD(BadInputFixture, "bad input: invalid collection specs are INVALID_ARGUMENT",
                 "[bad]") {
  using grpc::StatusCode;
  v1::CollectionSpec spec;
  spec.set_dimension(1);
  CHECK_REJECTED(client.CreateCollection("spec", spec), StatusCode::INVALID_ARGUMENT, "dimension");
  spec.set_dimension(8193);
  CHECK_REJECTED(client.CreateCollection("spec", spec), StatusCode::INVALID_ARGUMENT, "dimension");
  spec.set_dimension(-5);
  CHECK_REJECTED(client.CreateCollection("spec", spec), StatusCode::INVALID_ARGUMENT, "dimension");
  CHECK_REJECTED(client.CreateCollection("spec", NoEmbedderSpec(0)), StatusCode::INVALID_ARGUMENT,
                 "dimension");
  spec = {};
  spec.set_index_spec("NotAFaissFactory");
  CHECK_REJECTED(client.CreateCollection("spec", spec), StatusCode::INVALID_ARGUMENT, "index_spec");
  spec = {};
  spec.mutable_chunking()->set_target_tokens(8);
  CHECK_REJECTED(client.CreateCollection("spec", spec), StatusCode::INVALID_ARGUMENT, "chunking");
  spec = {};
  spec.mutable_chunking()->set_target_tokens(256);
  spec.mutable_chunking()->set_overlap_tokens(200);
  CHECK_REJECTED(client.CreateCollection("spec", spec), StatusCode::INVALID_ARGUMENT, "chunking");
  spec = {};
  spec.mutable_embedder()->set_kind(static_cast<v1::EmbedderKind>(99));
  CHECK_REJECTED(client.CreateCollection("spec", spec), StatusCode::INVALID_ARGUMENT, "embedder");
  spec = {};
  spec.set_metric(static_cast<v1::Metric>(77));
  CHECK_REJECTED(client.CreateCollection("spec", spec), StatusCode::INVALID_ARGUMENT, "metric");
  CHECK_FALSE(client.GetCollection("spec").ok());
  CheckUnchanged();
}

TEST_CASE_METHOD(BadInputFixture, "bad input: empty or oversized text is INVALID_ARGUMENT",
                 "[bad]") {
  using grpc::StatusCode;
  CHECK_REJECTED(client.Ingest("docs", {Doc("empty", "")}), StatusCode::INVALID_ARGUMENT, "text");
  // The server runs with --max_document_bytes=1024.
  CHECK_REJECTED(client.Ingest("docs", {Doc("big", std::string(1025, 'x'))}),
                 StatusCode::INVALID_ARGUMENT, "text");
  CHECK_REJECTED(client.Ingest("docs", {Doc("big", std::string(1024, 'y') + "\xc3\xa9")}),
                 StatusCode::INVALID_ARGUMENT, "text");
  // One bad document rejects the whole (atomic) batch and names its position.
  CHECK_REJECTED(client.Ingest("docs", {Doc("good", "A perfectly fine document."), Doc("bad", "")}),
                 StatusCode::INVALID_ARGUMENT, "documents[1]");
  CHECK_REJECTED(client.Ingest("docs", {Doc("good", "A fine one."), Doc("bigger", std::string(2000, 'z'))}),
                 StatusCode::INVALID_ARGUMENT, "text");
  QUARRY_CHECK_STATUS(client.GetDocument("docs", "good"), grpc::StatusCode::NOT_FOUND);
  v1::IngestStreamRequest message = StreamMessage("docs", 0, 3);
  message.mutable_documents(1)->set_text("");
  CHECK_REJECTED(client.IngestStream({message}), StatusCode::INVALID_ARGUMENT, "text");
  // Upserting an existing id with bad text leaves the old version in place.
  CHECK_REJECTED(client.Ingest("docs", {Doc("bees", "")}), StatusCode::INVALID_ARGUMENT, "text");
  v1::Document bees;
  REQUIRE_OK(client.GetDocument("docs", "bees", &bees));
  CHECK(bees.text() == kTopics[5].text);
  CheckUnchanged();

  // Exactly the limit is fine.
  v1::IngestResponse response;
  CHECK_OK(client.Ingest("docs", {Doc("limit", std::string(1023, 'w') + ".")}, &response));
}

TEST_CASE_METHOD(BadInputFixture, "bad input: invalid UTF-8 is INVALID_ARGUMENT", "[bad]") {
  using grpc::StatusCode;
  const std::vector<std::string> bad_sequences = {
      "\xff\xfe", "truncated \xc3", "overlong \xc0\xaf", "surrogate \xed\xa0\x80",
      "beyond U+10FFFF \xf4\x90\x80\x80", "lone continuation \x80"};
  for (const std::string& bad : bad_sequences) {
    INFO("bytes: " << v1::Document(Doc("", bad)).ShortDebugString());
    CHECK_REJECTED(client.Ingest("docs", {Doc("u1", "Valid text. " + bad)}),
                   StatusCode::INVALID_ARGUMENT, "text");
    CHECK_REJECTED(client.Ingest("docs", {Doc("u2", "Valid text.", "Title " + bad)}),
                   StatusCode::INVALID_ARGUMENT, "title");
    CHECK_REJECTED(
        client.Ingest("docs", {Doc("u3", "Valid text.", "", {{"label", "value " + bad}})}),
        StatusCode::INVALID_ARGUMENT, "metadata");
    CHECK_REJECTED(client.Ingest("docs", {Doc("id " + bad, "Valid text.")}),
                   StatusCode::INVALID_ARGUMENT, "id");
    CHECK_REJECTED(client.Search(TextQuery("docs", "bees " + bad)), StatusCode::INVALID_ARGUMENT,
                   "query");
  }
  // Metadata keys are restricted to [A-Za-z0-9_.-]; values must have a kind.
  CHECK_REJECTED(client.Ingest("docs", {Doc("k1", "Valid text.", "", {{"bad key!", true}})}),
                 StatusCode::INVALID_ARGUMENT, "metadata");
  CHECK_REJECTED(client.Ingest("docs", {Doc("k2", "Valid text.", "", {{"", true}})}),
                 StatusCode::INVALID_ARGUMENT, "metadata");
  v1::Document no_kind = Doc("k3", "Valid text.");
  (*no_kind.mutable_metadata())["empty"] = v1::MetadataValue();
  CHECK_REJECTED(client.Ingest("docs", {no_kind}), StatusCode::INVALID_ARGUMENT, "metadata");
  CHECK_REJECTED(client.Ingest("docs", {Doc("k4", "Valid text.", "",
                                            {{"n", std::numeric_limits<double>::quiet_NaN()}})}),
                 StatusCode::INVALID_ARGUMENT, "metadata");
  CheckUnchanged();
}

TEST_CASE_METHOD(BadInputFixture, "bad input: vector of the wrong dimension is INVALID_ARGUMENT",
                 "[bad]") {
  using grpc::StatusCode;
  CHECK_REJECTED(client.Ingest("vectors", {VectorDoc("c", "short", std::vector<float>(7, 0.5f))}),
                 StatusCode::INVALID_ARGUMENT, "dimension");
  CHECK_REJECTED(client.Ingest("vectors", {VectorDoc("c", "long", std::vector<float>(9, 0.5f))}),
                 StatusCode::INVALID_ARGUMENT, "dimension");
  std::vector<float> with_nan = Basis(8, 2);
  with_nan[4] = std::numeric_limits<float>::quiet_NaN();
  CHECK_REJECTED(client.Ingest("vectors", {VectorDoc("c", "nan", with_nan)}),
                 StatusCode::INVALID_ARGUMENT, "vector");
  CHECK_REJECTED(client.Ingest("vectors", {Doc("c", "no vector but no embedder either")}),
                 StatusCode::INVALID_ARGUMENT, "vector");
  CHECK_REJECTED(client.Ingest("docs", {VectorDoc("c", "builtin is 768", Basis(8, 0))}),
                 StatusCode::INVALID_ARGUMENT, "dimension");
  // A good document next to a bad one is not stored either.
  CHECK_REJECTED(client.Ingest("vectors", {VectorDoc("ok", "fine", Basis(8, 3)),
                                           VectorDoc("c", "short", std::vector<float>(7, 0.5f))}),
                 StatusCode::INVALID_ARGUMENT, "dimension");

  CHECK_REJECTED(client.Search(VectorQuery("vectors", std::vector<float>(7, 0.5f))),
                 StatusCode::INVALID_ARGUMENT, "dimension");
  CHECK_REJECTED(client.Search(VectorQuery("vectors", std::vector<float>(9, 0.5f))),
                 StatusCode::INVALID_ARGUMENT, "dimension");
  CHECK_REJECTED(client.Search(VectorQuery("docs", Basis(8, 0))), StatusCode::INVALID_ARGUMENT,
                 "dimension");
  CHECK_REJECTED(client.Search(VectorQuery("vectors", with_nan)), StatusCode::INVALID_ARGUMENT,
                 "vector");
  v1::SearchRequest lexical_vector = VectorQuery("vectors", Basis(8, 0));
  lexical_vector.mutable_options()->set_mode(v1::SEARCH_MODE_LEXICAL);
  CHECK_REJECTED(client.Search(lexical_vector), StatusCode::INVALID_ARGUMENT, "vector");
  CheckUnchanged();
}

TEST_CASE_METHOD(BadInputFixture, "bad input: relevance feedback out of range is INVALID_ARGUMENT",
                 "[bad]") {
  v1::SearchRequest documents = TextQuery("docs", "bees", v1::SEARCH_MODE_HYBRID, 10);
  documents.mutable_options()->set_feedback_documents(101);
  CHECK_REJECTED(client.Search(documents), grpc::StatusCode::INVALID_ARGUMENT, "feedback_documents");
  v1::SearchRequest terms = TextQuery("docs", "bees", v1::SEARCH_MODE_LEXICAL, 10);
  terms.mutable_options()->set_feedback_terms(0);
  CHECK_REJECTED(client.Search(terms), grpc::StatusCode::INVALID_ARGUMENT, "feedback_terms");
  v1::SearchRequest weight = TextQuery("docs", "bees", v1::SEARCH_MODE_HYBRID, 10);
  weight.mutable_options()->set_feedback_original_weight(1.5f);
  CHECK_REJECTED(client.Search(weight), grpc::StatusCode::INVALID_ARGUMENT, "feedback_original_weight");
  CheckUnchanged();
  v1::SearchRequest good = TextQuery("docs", "bees", v1::SEARCH_MODE_LEXICAL, 10);
  good.mutable_options()->set_feedback_documents(2);
  v1::SearchResponse response;
  CHECK_OK(client.Search(good, &response));
  CHECK(response.hits_size() > 0);
}

TEST_CASE_METHOD(BadInputFixture, "bad input: top_k out of range is INVALID_ARGUMENT", "[bad]") {
  for (int top_k : {-1, -1000, INT_MIN, 1001, INT_MAX}) {
    INFO("top_k " << top_k);
    CHECK_REJECTED(client.Search(TextQuery("docs", "bees", v1::SEARCH_MODE_HYBRID, top_k)),
                   grpc::StatusCode::INVALID_ARGUMENT, "top_k");
    CHECK_REJECTED(client.Search(VectorQuery("vectors", Basis(8, 0), top_k)),
                   grpc::StatusCode::INVALID_ARGUMENT, "top_k");
  }
  CheckUnchanged();
  // The edges: 1000 is allowed; 0 means 10 (there are 6 documents).
  v1::SearchResponse response;
  CHECK_OK(client.Search(TextQuery("docs", "bees", v1::SEARCH_MODE_DENSE, 1000), &response));
  CHECK(response.hits_size() == 6);
  CHECK_OK(client.Search(TextQuery("docs", "bees", v1::SEARCH_MODE_DENSE, 0), &response));
  CHECK(response.hits_size() == 6);
  CHECK_OK(client.Search(TextQuery("docs", "bees", v1::SEARCH_MODE_DENSE, 1), &response));
  CHECK(response.hits_size() == 1);
}

TEST_CASE_METHOD(BadInputFixture, "bad input: ef_search or nprobe out of range is INVALID_ARGUMENT",
                 "[bad]") {
  for (int value : {-1, INT_MIN, 4097, INT_MAX}) {
    INFO("ef_search " << value);
    v1::SearchRequest request = VectorQuery("vectors", Basis(8, 0));
    request.mutable_options()->set_ef_search(value);
    CHECK_REJECTED(client.Search(request), grpc::StatusCode::INVALID_ARGUMENT, "ef_search");
  }
  for (int value : {-1, INT_MIN, 65537, INT_MAX}) {
    INFO("nprobe " << value);
    v1::SearchRequest request = TextQuery("docs", "bees", v1::SEARCH_MODE_HYBRID, 5);
    request.mutable_options()->set_nprobe(value);
    CHECK_REJECTED(client.Search(request), grpc::StatusCode::INVALID_ARGUMENT, "nprobe");
  }
  CheckUnchanged();
  // The edges are served.
  v1::SearchRequest edges = VectorQuery("vectors", Basis(8, 0));
  edges.mutable_options()->set_ef_search(4096);
  edges.mutable_options()->set_nprobe(65536);
  v1::SearchResponse response;
  CHECK_OK(client.Search(edges, &response));
  edges.mutable_options()->set_ef_search(1);
  edges.mutable_options()->set_nprobe(1);
  CHECK_OK(client.Search(edges, &response));
}

TEST_CASE_METHOD(BadInputFixture, "bad input: malformed filters are INVALID_ARGUMENT", "[bad]") {
  v1::Filter equals_without_value;
  equals_without_value.mutable_equals()->set_field("topic");
  v1::Filter in_without_values;
  in_without_values.mutable_in()->set_field("topic");
  const std::vector<std::pair<std::string, v1::Filter>> filters = {
      {"no clause set", v1::Filter()},
      {"range without bounds", Range("position", Bounds())},
      {"range with a NaN bound", Range("position", Bounds().Gte(std::numeric_limits<double>::quiet_NaN()))},
      {"empty all", All({})},
      {"empty any", Any({})},
      {"not without a clause", Not(v1::Filter())},
      {"in without values", in_without_values},
      {"equals without a value", equals_without_value},
      {"equals with an empty field", Equals("", std::string("bees"))},
      {"malformed child of all", All({Equals("topic", std::string("bees")), Range("position", Bounds())})},
      {"malformed grandchild", Any({Not(All({}))})},
  };
  for (const auto& [name, filter] : filters) {
    for (v1::SearchMode mode : {v1::SEARCH_MODE_LEXICAL, v1::SEARCH_MODE_HYBRID}) {
      INFO("filter: " << name << " mode " << v1::SearchMode_Name(mode));
      v1::SearchRequest request = TextQuery("docs", "bees", mode);
      *request.mutable_options()->mutable_filter() = filter;
      CHECK_REJECTED(client.Search(request), grpc::StatusCode::INVALID_ARGUMENT, "filter");
    }
  }
  // Nested deeper than the documented limit (32), still well inside protobuf's own parse
  // depth limit (100), so the server's validation is what rejects it.
  v1::Filter deep = Equals("topic", std::string("bees"));
  for (int i = 0; i < 40; ++i) deep = Not(deep);
  v1::SearchRequest request = TextQuery("docs", "bees");
  *request.mutable_options()->mutable_filter() = deep;
  CHECK_REJECTED(client.Search(request), grpc::StatusCode::INVALID_ARGUMENT, "filter");
  CheckUnchanged();
}

TEST_CASE_METHOD(BadInputFixture, "bad input: empty requests are INVALID_ARGUMENT", "[bad]") {
  using grpc::StatusCode;
  CHECK_REJECTED(client.Ingest("docs", {}), StatusCode::INVALID_ARGUMENT, "documents");
  CHECK_REJECTED(client.DeleteDocuments("docs", {}), StatusCode::INVALID_ARGUMENT, "ids");
  CHECK_REJECTED(client.DeleteDocuments("docs", {"bees", ""}), StatusCode::INVALID_ARGUMENT, "ids");
  CHECK_REJECTED(client.Ingest("docs", {Doc(std::string(257, 'i'), "Valid text.")}),
                 StatusCode::INVALID_ARGUMENT, "id");
  CHECK_REJECTED(client.Ingest("docs", {Doc("control\x01", "Valid text.")}),
                 StatusCode::INVALID_ARGUMENT, "id");
  CHECK_REJECTED(client.Search(TextQuery("docs", "")), StatusCode::INVALID_ARGUMENT, "query");
  v1::SearchRequest no_query;
  no_query.set_collection("docs");
  CHECK_REJECTED(client.Search(no_query), StatusCode::INVALID_ARGUMENT, "query");
  CHECK_REJECTED(client.Search(VectorQuery("vectors", {})), StatusCode::INVALID_ARGUMENT, "vector");
  // Over the default --max_query_bytes (16 KiB) but under the message limit.
  CHECK_REJECTED(client.Search(TextQuery("docs", std::string(20000, 'q'))),
                 StatusCode::INVALID_ARGUMENT, "query");
  CheckUnchanged();
}

TEST_CASE_METHOD(BadInputFixture, "bad input: duplicate ids in a batch are INVALID_ARGUMENT",
                 "[bad]") {
  CHECK_REJECTED(client.Ingest("docs", {Doc("dup", "First copy."), Doc("other", "Other."),
                                        Doc("dup", "Second copy.")}),
                 grpc::StatusCode::INVALID_ARGUMENT, "dup");
  CHECK_REJECTED(client.Ingest("docs", {Doc("bees", "Replacement one."), Doc("bees", "Two.")}),
                 grpc::StatusCode::INVALID_ARGUMENT, "bees");
  QUARRY_CHECK_STATUS(client.GetDocument("docs", "dup"), grpc::StatusCode::NOT_FOUND);
  QUARRY_CHECK_STATUS(client.GetDocument("docs", "other"), grpc::StatusCode::NOT_FOUND);
  CheckUnchanged();
}

TEST_CASE_METHOD(BadInputFixture, "bad input: batch over max_batch_documents is RESOURCE_EXHAUSTED",
                 "[bad]") {
  // The server runs with --max_batch_documents=5.
  std::vector<v1::Document> six;
  std::vector<std::string> six_ids;
  for (int i = 0; i < 6; ++i) {
    six.push_back(Doc("batch" + std::to_string(i), "Batch document " + std::to_string(i) + "."));
    six_ids.push_back("batch" + std::to_string(i));
  }
  CHECK_REJECTED(client.Ingest("docs", six), grpc::StatusCode::RESOURCE_EXHAUSTED, "5");
  CHECK_REJECTED(client.IngestStream({StreamMessage("docs", 0, 6)}),
                 grpc::StatusCode::RESOURCE_EXHAUSTED, "5");
  CHECK_REJECTED(client.DeleteDocuments("docs", {"volcano", "bread", "orbit", "chess", "violin", "bees"}),
                 grpc::StatusCode::RESOURCE_EXHAUSTED, "5");
  CheckUnchanged();
  // The limit itself is fine, and a stream may carry any number of such messages.
  six.pop_back();
  CHECK_OK(client.Ingest("docs", six));
  v1::IngestStreamResponse streamed;
  CHECK_OK(client.IngestStream({StreamMessage("docs", 0, 5), StreamMessage("", 1, 5)}, &streamed));
  CHECK(streamed.documents() == 10);
}

TEST_CASE_METHOD(BadInputFixture, "bad input: oversized message is RESOURCE_EXHAUSTED", "[bad]") {
  // The server runs with --max_message_bytes=65536.
  const std::string huge(100 * 1024, 'h');
  QUARRY_CHECK_STATUS(client.Ingest("docs", {Doc("huge", huge)}),
                      grpc::StatusCode::RESOURCE_EXHAUSTED);
  v1::IngestStreamRequest message;
  message.set_collection("docs");
  *message.add_documents() = Doc("huge", huge);
  QUARRY_CHECK_STATUS(client.IngestStream({message}), grpc::StatusCode::RESOURCE_EXHAUSTED);
  QUARRY_CHECK_STATUS(client.Search(TextQuery("docs", huge)), grpc::StatusCode::RESOURCE_EXHAUSTED);
  CheckUnchanged();
  // The server is still healthy afterwards.
  v1::SearchResponse response;
  CHECK_OK(client.Search(TextQuery("docs", "bees"), &response));
  CHECK(response.hits_size() > 0);
}

}  // namespace
}  // namespace quarry::testing
