// Damaged data on disk, with real processes: a shard with a flipped byte or a truncated file is
// refused by its checksums (the server logs which shard and why, and serves the rest of the
// collection); a log segment with a flipped byte, or one before the last cut short, makes its
// collection answer DATA_LOSS naming the segment, while other collections are served.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/test_support.h"

namespace quarry::testing {
namespace {

namespace fs = std::filesystem;

// The largest file of a directory: the one most of the data is in.
fs::path LargestFile(const fs::path& directory) {
  fs::path largest;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory)) {
    if (entry.is_regular_file() &&
        (largest.empty() || entry.file_size() > fs::file_size(largest))) {
      largest = entry.path();
    }
  }
  REQUIRE_FALSE(largest.empty());
  return largest;
}

std::string Contents(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void FlipByte(const fs::path& path, std::streamoff offset) {
  std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
  file.seekg(offset);
  char byte = 0;
  file.get(byte);
  file.seekp(offset);
  file.put(static_cast<char>(byte ^ 0x5a));
  REQUIRE(file.good());
}

void IngestEach(Client& client, const std::string& collection, const std::string& prefix,
                const std::string& word) {
  for (int i = 0; i < 5; ++i) {
    const std::string id = prefix + std::to_string(i);
    REQUIRE_OK(client.Ingest(collection, {Doc(id, word + " document " + id + " of the survey")}));
  }
}

std::set<std::string> LexicalDocuments(Client& client, const std::string& collection,
                                       const std::string& text) {
  v1::SearchResponse response;
  REQUIRE_OK(client.Search(TextQuery(collection, text, v1::SEARCH_MODE_LEXICAL, 50), &response));
  std::set<std::string> ids;
  for (const v1::SearchHit& hit : response.hits()) ids.insert(hit.document_id());
  return ids;
}

TEST_CASE("a corrupt or truncated shard is refused and the rest of the collection is served",
          "[corruption]") {
  TestServer server;
  {
    Client client(server.process());
    v1::CollectionSpec spec;
    spec.set_dimension(64);
    REQUIRE_OK(client.CreateCollection("docs", spec));
    // Three shards (alpha, beta, gamma documents) and a fresh log tail (delta).
    for (const std::string word : {"alpha", "beta", "gamma"}) {
      IngestEach(client, "docs", word.substr(0, 1), word);
      REQUIRE(RunIndexer(
                  {"watch", "--once", "--data_dir=" + server.data_dir(), "--merge_min_shards=100"},
                  server.root().Join("indexer.log")) == 0);
    }
    IngestEach(client, "docs", "d", "delta");
  }
  REQUIRE(server->Stop() == 0);

  // Shard ids start with their creation time: sorted, they are alpha, beta, gamma.
  const fs::path shards = server.data_dir() + "/collections/docs/shards";
  std::vector<std::string> ids;
  for (const fs::directory_entry& entry : fs::directory_iterator(shards)) {
    ids.push_back(entry.path().filename().string());
  }
  std::sort(ids.begin(), ids.end());
  REQUIRE(ids.size() == 3);
  const fs::path flipped = LargestFile(shards / ids[0]);
  FlipByte(flipped, static_cast<std::streamoff>(fs::file_size(flipped) / 2));
  const fs::path truncated = LargestFile(shards / ids[1]);
  fs::resize_file(truncated, fs::file_size(truncated) / 2);

  server->Restart();
  Client client(server.process());
  // Each damaged shard is reported by id and cause.
  CHECK(Eventually([&] {
    const std::string log = server->Log();
    return log.find("shard refused") != std::string::npos &&
           log.find(ids[0]) != std::string::npos &&
           log.find(flipped.filename().string() + " checksum mismatch") != std::string::npos &&
           log.find(ids[1]) != std::string::npos;
  }));
  // Nothing of theirs is served, not even in part; everything else is.
  CHECK(LexicalDocuments(client, "docs", "alpha").empty());
  CHECK(LexicalDocuments(client, "docs", "beta").empty());
  CHECK(LexicalDocuments(client, "docs", "gamma") ==
        std::set<std::string>{"g0", "g1", "g2", "g3", "g4"});
  CHECK(LexicalDocuments(client, "docs", "delta") ==
        std::set<std::string>{"d0", "d1", "d2", "d3", "d4"});
  QUARRY_CHECK_STATUS(client.GetDocument("docs", "a1"), grpc::StatusCode::NOT_FOUND);
  CHECK_OK(client.GetDocument("docs", "g1"));
  // The collection stays writable.
  REQUIRE_OK(client.Ingest("docs", {Doc("e0", "epsilon document after the damage")}));
  CHECK(LexicalDocuments(client, "docs", "epsilon") == std::set<std::string>{"e0"});

  // The indexer does not build on a damaged shard either: it says why and publishes nothing.
  const std::string manifest_before = Contents(server.data_dir() + "/collections/docs/MANIFEST");
  REQUIRE(RunIndexer({"watch", "--once", "--data_dir=" + server.data_dir()},
                     server.root().Join("indexer.log")) == 0);
  CHECK(Contents(server.data_dir() + "/collections/docs/MANIFEST") == manifest_before);
  CHECK(Contents(server.root().Join("indexer.log")).find(ids[0]) != std::string::npos);
  CHECK(server->Stop() == 0);
}

// The segments of a collection's log, oldest first.
std::vector<fs::path> LogSegments(const TestServer& server, const std::string& collection) {
  std::vector<fs::path> segments;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(server.data_dir() + "/collections/" + collection + "/log")) {
    if (entry.path().extension() == ".qlog") segments.push_back(entry.path());
  }
  std::sort(segments.begin(), segments.end());
  return segments;
}

TEST_CASE("a corrupt or truncated log segment makes its collection answer DATA_LOSS naming it",
          "[corruption]") {
  // Small segments, so that the log has several and one before the last can be cut short.
  TestServer server({"--log_segment_bytes=2048"});
  {
    Client client(server.process());
    for (const std::string name : {"good", "flipped", "cut"}) {
      REQUIRE_OK(client.CreateCollection(name));
      IngestEach(client, name, name.substr(0, 1), "alpha");
    }
  }
  REQUIRE(server->Stop() == 0);
  // A byte in the first record: not a torn tail, corruption.
  const fs::path flipped = LogSegments(server, "flipped").front();
  FlipByte(flipped, 16 + 8 + 4);  // segment header, frame header, into the payload
  // A segment before the last one loses its end (the last one ending in a partial record is
  // what a crash mid-append leaves, and is repaired).
  const std::vector<fs::path> cut_segments = LogSegments(server, "cut");
  REQUIRE(cut_segments.size() >= 2);
  const fs::path cut = cut_segments.front();
  fs::resize_file(cut, fs::file_size(cut) - 3);

  server->Restart();
  Client client(server.process());
  for (const auto& [name, segment] : {std::pair{"flipped", flipped}, std::pair{"cut", cut}}) {
    INFO("collection " << name);
    v1::Collection collection;
    const grpc::Status status = client.GetCollection(name, &collection);
    INFO(Describe(status));
    CHECK(status.error_code() == grpc::StatusCode::DATA_LOSS);
    CHECK(status.error_message().find(segment.filename().string()) != std::string::npos);
    QUARRY_CHECK_STATUS(client.Search(TextQuery(name, "alpha")), grpc::StatusCode::DATA_LOSS);
    QUARRY_CHECK_STATUS(client.Ingest(name, {Doc("x9", "not stored")}),
                        grpc::StatusCode::DATA_LOSS);
  }
  // The other collection is unaffected.
  CHECK(LexicalDocuments(client, "good", "alpha") ==
        std::set<std::string>{"g0", "g1", "g2", "g3", "g4"});
  REQUIRE_OK(client.Ingest("good", {Doc("g9", "alpha document written after the damage")}));
  CHECK(server->Stop() == 0);
}

}  // namespace
}  // namespace quarry::testing
