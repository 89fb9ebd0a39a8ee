// Crash loops with real processes (CTest label `crashloop`): quarry-server killed with SIGKILL
// at random moments while several clients upsert and delete documents, and quarry-indexer
// (watching the log, or bulk-building from a file) killed at random moments and at named steps
// of a publish (its --crash_at flag). After every
// crash the data directory must serve exactly what was acknowledged: each acknowledged
// document once, with its latest acknowledged text and every one of its chunks; deleted ones
// absent; an operation in flight at the crash applied entirely or not at all. The manifest
// must always be whole and name only shards that exist.
//
// QUARRY_CRASH_ITERATIONS sets the iterations of each loop (soak runs); the default is a few,
// so that the loops run in every `ctest`.
#include <zlib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/test_support.h"

namespace quarry::testing {
namespace {

constexpr char kCollection[] = "crash";
constexpr int kIdsPerWriter = 12;

int Iterations(int short_default) {
  const char* value = std::getenv("QUARRY_CRASH_ITERATIONS");
  const int iterations = value != nullptr ? std::atoi(value) : 0;
  return iterations > 0 ? iterations : short_default;
}

// Small chunks, so that most documents have several and a partial one would show.
v1::CollectionSpec SmallChunks() {
  v1::CollectionSpec spec;
  spec.set_dimension(32);
  spec.mutable_chunking()->set_target_tokens(16);
  spec.mutable_chunking()->set_overlap_tokens(4);
  return spec;
}

// A word only this id's title holds (consonants only, so the stemmer leaves it whole): a
// lexical search for it finds every chunk of the document, since chunks are indexed with
// their document's title.
std::string IdToken(int writer, int slot) {
  static constexpr char kLetters[] = "bcdfghjkmn";
  std::string token = "qz";
  for (int value : {writer / 10 % 10, writer % 10, slot / 1000 % 10, slot / 100 % 10,
                    slot / 10 % 10, slot % 10}) {
    token += kLetters[value];
  }
  return token;
}

std::string Id(int writer, int slot) {
  return "w" + std::to_string(writer) + "-" + std::to_string(slot);
}

// A document's state: absent, or present with this text.
using State = std::optional<std::string>;

std::string DescribeState(const State& state) {
  return state.has_value() ? "\"" + state->substr(0, 40) + "...\"" : "absent";
}

// An upsert (states hold texts) or a delete (states are absent). Sent as one atomic batch, or
// (upserts only) as an IngestStream of one message per document, which commits each message
// as it arrives: a stream cut by a crash leaves a prefix of its messages applied.
struct Operation {
  std::vector<int> slots;
  std::vector<State> states;
  bool streamed = false;
};

// One client's documents (ids w<number>-<slot>): what was acknowledged, and the operation in
// flight when its server died, if any (neither acknowledged nor refused).
struct Writer {
  int number = 0;
  const ServerProcess* server = nullptr;  // the replica it writes through
  std::map<int, State> acknowledged;
  std::optional<Operation> in_doubt;
  grpc::Status ended_with;
  bool failed_while_server_up = false;
  int version = 0;
};

Operation NextOperation(Writer& writer, std::mt19937& random) {
  static const std::vector<std::string> kWords = {
      "river",  "valley", "station", "report", "sensor", "reading", "north",  "glacier",
      "survey", "parcel", "rail",    "harbor", "tide",   "meadow",  "forest", "ridge"};
  std::vector<int> slots(kIdsPerWriter);
  for (int i = 0; i < kIdsPerWriter; ++i) slots[i] = i;
  std::shuffle(slots.begin(), slots.end(), random);
  Operation operation;
  const bool upsert = std::uniform_int_distribution<int>(0, 3)(random) != 0;
  slots.resize(static_cast<size_t>(std::uniform_int_distribution<int>(1, upsert ? 3 : 2)(random)));
  operation.slots = slots;
  operation.streamed = upsert && std::uniform_int_distribution<int>(0, 2)(random) == 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    if (!upsert) {
      operation.states.emplace_back();
      continue;
    }
    std::string text = "version " + std::to_string(++writer.version);
    const int words = std::uniform_int_distribution<int>(4, 70)(random);
    for (int w = 0; w < words; ++w) {
      text += " " + kWords[std::uniform_int_distribution<size_t>(0, kWords.size() - 1)(random)];
    }
    operation.states.push_back(text + ".");
  }
  return operation;
}

grpc::Status Apply(Client& client, const Writer& writer, const Operation& operation) {
  if (!operation.states[0].has_value()) {
    std::vector<std::string> ids;
    for (int slot : operation.slots) ids.push_back(Id(writer.number, slot));
    return client.DeleteDocuments(kCollection, ids);
  }
  std::vector<v1::Document> documents;
  for (size_t i = 0; i < operation.slots.size(); ++i) {
    const int slot = operation.slots[i];
    documents.push_back(Doc(Id(writer.number, slot), *operation.states[i],
                            "crash document " + IdToken(writer.number, slot)));
  }
  if (!operation.streamed) return client.Ingest(kCollection, documents);
  std::vector<v1::IngestStreamRequest> messages;
  for (const v1::Document& document : documents) {
    v1::IngestStreamRequest& message = messages.emplace_back();
    message.set_collection(kCollection);
    *message.add_documents() = document;
  }
  return client.IngestStream(messages);
}

// Counts acknowledged operations across writers, so that the main thread can crash a server
// after a random number of them; `stop` is set just before the kill.
struct Progress {
  std::mutex mutex;
  std::condition_variable changed;
  int acknowledged = 0;
  int finished_writers = 0;
  std::atomic<bool> stop{false};
};

// Applies random operations until `limit` were acknowledged, `stop` is set, or one fails (its
// server died).
void RunWriter(Writer& writer, Client& client, int limit, uint32_t seed, Progress& progress) {
  std::mt19937 random(seed);
  writer.ended_with = grpc::Status::OK;
  for (int done = 0; done < limit && !progress.stop.load(); ++done) {
    Operation operation = NextOperation(writer, random);
    const grpc::Status status = Apply(client, writer, operation);
    if (!status.ok()) {
      writer.ended_with = status;
      writer.failed_while_server_up = !progress.stop.load();
      writer.in_doubt = std::move(operation);
      break;
    }
    for (size_t i = 0; i < operation.slots.size(); ++i) {
      writer.acknowledged[operation.slots[i]] = operation.states[i];
    }
    std::lock_guard lock(progress.mutex);
    ++progress.acknowledged;
    progress.changed.notify_all();
  }
  std::lock_guard lock(progress.mutex);
  ++progress.finished_writers;
  progress.changed.notify_all();
}

// What the server serves for one id, after checking that its search index holds exactly one
// whole copy of it: every chunk once, each chunk's text taken from the document's text.
State Observe(Client& client, int writer, int slot) {
  const std::string id = Id(writer, slot);
  INFO("document " << id);
  v1::Document document;
  const grpc::Status status = client.GetDocument(kCollection, id, &document);
  INFO("GetDocument: " << Describe(status));
  REQUIRE((status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND));
  v1::SearchResponse response;
  REQUIRE_OK(client.Search(
      TextQuery(kCollection, IdToken(writer, slot), v1::SEARCH_MODE_LEXICAL, 100), &response));
  if (!status.ok()) {
    CHECK(response.hits_size() == 0);
    return std::nullopt;
  }
  const std::string& text = document.text();
  std::set<int> chunk_indexes;
  size_t covered_to = 0;
  for (const v1::SearchHit& hit : response.hits()) {
    INFO("hit " << hit.chunk_id() << " [" << hit.start_offset() << ", " << hit.end_offset() << ")");
    CHECK(hit.document_id() == id);
    CHECK(chunk_indexes.insert(hit.chunk_index()).second);  // no chunk twice
    const size_t start = static_cast<size_t>(hit.start_offset());
    const size_t end = static_cast<size_t>(hit.end_offset());
    REQUIRE(start <= end);
    REQUIRE(end <= text.size());
    CHECK(hit.text() == text.substr(start, end - start));
    covered_to = std::max(covered_to, end);
  }
  // Chunks 0..n-1, the last one reaching the end of the text: none missing.
  REQUIRE_FALSE(chunk_indexes.empty());
  CHECK(*chunk_indexes.begin() == 0);
  CHECK(*chunk_indexes.rbegin() == static_cast<int>(chunk_indexes.size()) - 1);
  CHECK(covered_to == text.size());
  return text;
}

// Checks that the server serves exactly the writers' acknowledged states, settling each
// in-doubt operation (all of it applied, or none of it) into them.
// `others`: live documents that are not the writers'.
void Verify(Client& client, std::vector<Writer>& writers,
            const std::set<std::string>& others = {}) {
  std::set<std::string> live_ids = others;
  for (Writer& writer : writers) {
    std::map<int, State> observed;
    for (int slot = 0; slot < kIdsPerWriter; ++slot)
      observed[slot] = Observe(client, writer.number, slot);
    if (writer.in_doubt.has_value()) {
      const Operation& operation = *writer.in_doubt;
      const size_t count = operation.slots.size();
      bool none = true;
      bool all = true;
      for (size_t i = 0; i < count; ++i) {
        const int slot = operation.slots[i];
        none = none && observed[slot] == writer.acknowledged[slot];
        all = all && observed[slot] == operation.states[i];
      }
      // A stream: the messages applied are a prefix, in the order they were sent.
      size_t applied = 0;
      while (applied < count && observed[operation.slots[applied]] == operation.states[applied]) {
        ++applied;
      }
      bool rest_unapplied = true;
      for (size_t i = applied; i < count; ++i) {
        rest_unapplied = rest_unapplied &&
                         observed[operation.slots[i]] == writer.acknowledged[operation.slots[i]];
      }
      INFO("writer " << writer.number << ": the " << (operation.streamed ? "stream" : "batch")
                     << " in flight at the crash was applied partly: " << applied << " of " << count
                     << " documents first, the rest "
                     << (rest_unapplied ? "not applied" : "mixed"));
      CHECK((operation.streamed ? rest_unapplied : none || all));
      if (all) applied = count;
      if (none && !operation.streamed) applied = 0;
      for (size_t i = 0; i < applied; ++i) {
        writer.acknowledged[operation.slots[i]] = operation.states[i];
      }
      writer.in_doubt.reset();
    }
    for (int slot = 0; slot < kIdsPerWriter; ++slot) {
      INFO("document " << Id(writer.number, slot) << ": acknowledged "
                       << DescribeState(writer.acknowledged[slot]) << ", served "
                       << DescribeState(observed[slot]));
      CHECK(observed[slot] == writer.acknowledged[slot]);
      if (writer.acknowledged[slot].has_value()) live_ids.insert(Id(writer.number, slot));
    }
  }
  v1::Collection collection;
  REQUIRE_OK(client.GetCollection(kCollection, &collection));
  CHECK(collection.stats().documents() == static_cast<int64_t>(live_ids.size()));
  // A broad hybrid search returns each chunk once and only live documents.
  v1::SearchResponse response;
  REQUIRE_OK(client.Search(
      TextQuery(kCollection, "river valley station report", v1::SEARCH_MODE_HYBRID, 200),
      &response));
  std::set<std::string> chunk_ids;
  for (const v1::SearchHit& hit : response.hits()) {
    INFO("hit " << hit.chunk_id());
    CHECK(chunk_ids.insert(hit.chunk_id()).second);
    CHECK(live_ids.count(hit.document_id()) == 1);
  }
}

// `count` writers, spread over the replicas.
std::vector<Writer> MakeWriters(int count, const std::vector<const ServerProcess*>& replicas) {
  std::vector<Writer> writers(static_cast<size_t>(count));
  for (size_t i = 0; i < writers.size(); ++i) {
    writers[i].number = static_cast<int>(i);
    writers[i].server = replicas[i % replicas.size()];
  }
  return writers;
}

// Runs every writer on its own thread, for at most `limit` acknowledged operations each.
std::vector<std::thread> StartWriters(std::vector<Writer>& writers, int limit, std::mt19937& random,
                                      Progress& progress) {
  std::vector<std::thread> threads;
  for (Writer& writer : writers) {
    // The client (its stubs share the channel) is made here: a kill resets the server's
    // channel, which must not race with a thread still starting.
    threads.emplace_back([&writer, &progress, limit, seed = static_cast<uint32_t>(random()),
                          client = std::make_unique<Client>(*writer.server)] {
      RunWriter(writer, *client, limit, seed, progress);
    });
  }
  return threads;
}

void Join(std::vector<std::thread>& threads) {
  for (std::thread& thread : threads) thread.join();
  threads.clear();
}

std::vector<std::string> IndexerArguments(const TestServer& server) {
  return {"watch",
          "--once",
          "--data_dir=" + server.data_dir(),
          "--garbage_grace_seconds=0",
          "--merge_min_shards=2",
          "--threads=1"};
}

std::string CollectionDirectory(const TestServer& server) {
  return server.data_dir() + "/collections/" + kCollection;
}

struct ManifestOnDisk {
  int64_t generation = 0;
  std::set<std::string> shards;
};

// Reads MANIFEST as a reader that knows nothing of the indexer would: whole (checksum over
// the body matches), valid JSON, and every shard it names present with its SHARD file.
ManifestOnDisk ReadManifestFile(const TestServer& server) {
  const std::string path = CollectionDirectory(server) + "/MANIFEST";
  ManifestOnDisk manifest;
  if (!std::filesystem::exists(path)) return manifest;  // nothing published yet
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  const std::string text = contents.str();
  INFO("MANIFEST:\n" << text);
  const size_t split = text.rfind("\ncrc32 ");
  REQUIRE(split != std::string::npos);
  const std::string body = text.substr(0, split);
  const uLong crc = crc32_z(0L, reinterpret_cast<const Bytef*>(body.data()), body.size());
  REQUIRE(std::stoul(text.substr(split + 7), nullptr, 16) == crc);
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  REQUIRE_FALSE(json.is_discarded());
  manifest.generation = json.at("generation").get<int64_t>();
  for (const nlohmann::json& shard : json.at("shards")) {
    const std::string id = shard.at("id").get<std::string>();
    INFO("shard " << id);
    CHECK(std::filesystem::exists(CollectionDirectory(server) + "/shards/" + id + "/SHARD"));
    manifest.shards.insert(id);
  }
  return manifest;
}

// Appends the start of a frame that claims more bytes than follow, as an append cut short by
// a power failure would leave it, to the log's last segment.
void AppendTornFrame(const TestServer& server) {
  std::set<std::string> segments;
  for (const auto& entry :
       std::filesystem::directory_iterator(CollectionDirectory(server) + "/log")) {
    if (entry.path().extension() == ".qlog") segments.insert(entry.path().string());
  }
  REQUIRE_FALSE(segments.empty());
  std::ofstream out(*segments.rbegin(), std::ios::binary | std::ios::app);
  const uint32_t header[2] = {4096, 0x5eed5eed};  // payload length, CRC-32
  out.write(reinterpret_cast<const char*>(header), sizeof header);
  out << std::string(100, 'x');
  REQUIRE(out.good());
}

std::set<std::string> DirectoryEntries(const std::string& directory) {
  std::set<std::string> names;
  if (!std::filesystem::exists(directory)) return names;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

std::set<std::string> ShardDirectories(const TestServer& server) {
  return DirectoryEntries(CollectionDirectory(server) + "/shards");
}

std::set<std::string> CollectionDirectoryEntries(const TestServer& server) {
  return DirectoryEntries(CollectionDirectory(server));
}

TEST_CASE("kill -9 of a server replica during concurrent upserts and deletes, many times",
          "[crashloop]") {
  // Tiny log segments: the log rolls every few records, and the indexer deletes the segments
  // its shards cover while the replicas tail the log.
  TestServer server({"--log_segment_bytes=4096"});
  ServerConfig second_config = server->config();
  second_config.log_path = server.root().Join("second.log");
  ServerProcess second(second_config);
  const std::vector<ServerProcess*> replicas = {&server.process(), &second};
  REQUIRE_OK(Client(server.process()).CreateCollection(kCollection, SmallChunks()));
  CHECK(Eventually([&] { return Client(second).GetCollection(kCollection).ok(); }));
  std::vector<Writer> writers = MakeWriters(4, {&server.process(), &second});
  std::random_device seed;
  std::mt19937 random(seed());
  const int iterations = Iterations(4);
  for (int iteration = 0; iteration < iterations; ++iteration) {
    INFO("iteration " << iteration);
    // Every other time the indexer turns part of the log into shards meanwhile, so that the
    // crash also lands between shards and the fresh log tail.
    std::optional<IndexerProcess> indexer;
    if (iteration % 2 == 1) {
      indexer.emplace(IndexerArguments(server), server.root().Join("indexer.log"));
    }
    Progress progress;
    std::vector<std::thread> threads =
        StartWriters(writers, std::numeric_limits<int>::max(), random, progress);
    const int kill_after = std::uniform_int_distribution<int>(1, 40)(random);
    {
      std::unique_lock lock(progress.mutex);
      CHECK(progress.changed.wait_for(lock, std::chrono::minutes(2), [&] {
        return progress.acknowledged >= kill_after ||
               progress.finished_writers == static_cast<int>(writers.size());
      }));
    }
    ServerProcess& killed = *replicas[std::uniform_int_distribution<size_t>(0, 1)(random)];
    ServerProcess& survivor = &killed == &second ? server.process() : second;
    progress.stop = true;
    killed.Kill();
    Join(threads);
    for (const Writer& writer : writers) {
      INFO("writer " << writer.number << " ended with " << Describe(writer.ended_with));
      CHECK_FALSE(writer.failed_while_server_up);
      if (writer.server == &survivor) CHECK(writer.ended_with.ok());
    }
    if (indexer.has_value()) CHECK(indexer->Wait() == 0);
    // Now and then the crash also tore an append (as a power failure would).
    if (iteration % 3 == 2) AppendTornFrame(server);
    killed.Restart();

    // A write through the restarted replica, once served by the survivor, shows that the
    // survivor has applied the whole log (replicas apply it in order).
    const std::string marker = "marker of iteration " + std::to_string(iteration);
    Client restarted(killed);
    REQUIRE_OK(restarted.Ingest(kCollection, {Doc("marker", marker)}));
    Client surviving(survivor);
    CHECK(Eventually([&] {
      v1::Document document;
      return surviving.GetDocument(kCollection, "marker", &document).ok() &&
             document.text() == marker;
    }));
    Verify(restarted, writers, {"marker"});
    Verify(surviving, writers, {"marker"});
  }
  CHECK(second.Stop() == 0);
  CHECK(server->Stop() == 0);
}

TEST_CASE("kill -9 of the indexer mid-build and mid-publish, then a full run", "[crashloop]") {
  TestServer server;
  REQUIRE_OK(Client(server.process()).CreateCollection(kCollection, SmallChunks()));
  std::vector<Writer> writers = MakeWriters(2, {&server.process()});
  std::random_device seed;
  std::mt19937 random(seed());
  // "": a kill at a random moment of the run (mostly mid-build: building is most of it).
  const std::vector<std::string> kCrashPoints = {
      "shard-writing", "", "shard-built", "", "manifest-published", "", "garbage-collecting", ""};
  std::chrono::milliseconds run_time(300);  // of the last full run: the range for random kills
  const int iterations = Iterations(static_cast<int>(kCrashPoints.size()));
  for (int iteration = 0; iteration < iterations; ++iteration) {
    const std::string& crash_point =
        kCrashPoints[static_cast<size_t>(iteration) % kCrashPoints.size()];
    INFO("iteration " << iteration << ", crash point '" << crash_point << "'");
    // Acknowledged writes before the run (so that it has a log tail to index) and during it.
    Progress progress;
    std::vector<std::thread> threads = StartWriters(writers, 4, random, progress);
    Join(threads);
    std::vector<std::string> arguments = IndexerArguments(server);
    if (!crash_point.empty()) arguments.push_back("--crash_at=" + crash_point);
    IndexerProcess indexer(arguments, server.root().Join("indexer.log"));
    threads = StartWriters(writers, 3, random, progress);
    if (crash_point.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(
          std::uniform_int_distribution<int64_t>(0, run_time.count())(random)));  // a random moment
      indexer.Kill();
    } else {
      CHECK(indexer.Wait() == 128 + SIGKILL);  // it reached the step and died there
    }
    Join(threads);
    for (const Writer& writer : writers) {
      INFO("writer " << writer.number << " failed with " << Describe(writer.ended_with));
      CHECK_FALSE(writer.in_doubt.has_value());
    }
    if (crash_point == "shard-built") {
      // What a crash in the middle of writing the new manifest leaves (that window is too
      // short to hit by chance): half of a temporary manifest next to the intact one.
      std::ofstream(CollectionDirectory(server) + "/MANIFEST.tmp.99999") << "{\n \"format_";
    }
    const ManifestOnDisk after_crash = ReadManifestFile(server);

    // The next run finishes the work and clears what the crashed one left behind.
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(RunIndexer(IndexerArguments(server), server.root().Join("indexer.log")) == 0);
    run_time = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    const ManifestOnDisk manifest = ReadManifestFile(server);
    CHECK(manifest.generation >= after_crash.generation);
    CHECK(ShardDirectories(server) == manifest.shards);
    CHECK(CollectionDirectoryEntries(server) ==
          std::set<std::string>{"INDEXER.lock", "MANIFEST", "config.json", "log", "shards"});

    Client client(server.process());
    CHECK(Eventually([&] {
      v1::Collection collection;
      return client.GetCollection(kCollection, &collection).ok() &&
             collection.stats().generation() == manifest.generation &&
             collection.stats().shards() == static_cast<int64_t>(manifest.shards.size()) &&
             collection.stats().fresh_chunks() == 0;
    }));
    Verify(client, writers);
  }
  // A server started on the directory alone serves the same.
  server->Restart();
  Client client(server.process());
  Verify(client, writers);
  CHECK(server->Stop() == 0);
}

TEST_CASE("kill -9 of a bulk build, then a full rerun", "[crashloop]") {
  TestServer server;
  v1::CollectionSpec spec = SmallChunks();
  spec.set_index_spec("Flat");  // the build's time goes to the publishes, not to HNSW
  REQUIRE_OK(Client(server.process()).CreateCollection(kCollection, spec));
  // One writer's worth of ids, loaded from a file: 600 documents, published 256 at a time
  // (one read batch per shard), so that a kill can land between the publishes of one build.
  constexpr int kBulkWriter = 99;
  constexpr int kDocuments = 600;
  const std::string corpus = server.root().Join("corpus.jsonl");
  std::random_device seed;
  std::mt19937 random(seed());
  const std::vector<std::string> kCrashPoints = {"shard-writing", "", "manifest-published", ""};
  std::chrono::milliseconds run_time(1000);
  const int iterations = Iterations(static_cast<int>(kCrashPoints.size()));
  for (int iteration = 0; iteration < iterations; ++iteration) {
    const std::string& crash_point =
        kCrashPoints[static_cast<size_t>(iteration) % kCrashPoints.size()];
    INFO("iteration " << iteration << ", crash point '" << crash_point << "'");
    // Each iteration loads a new version of every document.
    auto text = [&](int slot) {
      return "version " + std::to_string(iteration) + " of bulk record " + std::to_string(slot) +
             " from the river station.";
    };
    {
      std::ofstream out(corpus);
      for (int slot = 0; slot < kDocuments; ++slot) {
        out << nlohmann::json{{"id", Id(kBulkWriter, slot)},
                              {"title", "crash document " + IdToken(kBulkWriter, slot)},
                              {"text", text(slot)}}
                   .dump()
            << "\n";
      }
    }
    std::vector<std::string> arguments = {"build", "--data_dir=" + server.data_dir(),
                                          "--collection=" + std::string(kCollection), "--threads=1",
                                          "--max_chunks_per_shard=200"};
    std::vector<std::string> crashing = arguments;
    if (!crash_point.empty()) crashing.push_back("--crash_at=" + crash_point);
    crashing.push_back(corpus);
    arguments.push_back(corpus);
    IndexerProcess build(crashing, server.root().Join("indexer.log"));
    if (crash_point.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(
          std::uniform_int_distribution<int64_t>(0, run_time.count())(random)));  // a random moment
      build.Kill();
    } else {
      CHECK(build.Wait() == 128 + SIGKILL);
    }
    ReadManifestFile(server);

    const auto start = std::chrono::steady_clock::now();
    REQUIRE(RunIndexer(arguments, server.root().Join("indexer.log")) == 0);
    run_time = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    // Garbage collection (and merging) by the sidecar clears what the crash left.
    REQUIRE(RunIndexer(IndexerArguments(server), server.root().Join("indexer.log")) == 0);
    const ManifestOnDisk manifest = ReadManifestFile(server);
    CHECK(ShardDirectories(server) == manifest.shards);

    Client client(server.process());
    CHECK(Eventually([&] {
      v1::Collection collection;
      return client.GetCollection(kCollection, &collection).ok() &&
             collection.stats().generation() == manifest.generation &&
             collection.stats().shards() == static_cast<int64_t>(manifest.shards.size());
    }));
    for (int slot = 0; slot < kDocuments; ++slot) {
      CHECK(Observe(client, kBulkWriter, slot) == State(text(slot)));
    }
    v1::Collection collection;
    REQUIRE_OK(client.GetCollection(kCollection, &collection));
    CHECK(collection.stats().documents() == kDocuments);
  }
  CHECK(server->Stop() == 0);
}

}  // namespace
}  // namespace quarry::testing
