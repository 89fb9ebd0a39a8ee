#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "index/catalog.h"
#include "index/collection.h"
#include "index/indexer/collection_indexer.h"

namespace quarry {
namespace {

class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    char pattern[] = "/tmp/quarry-indexer-test-XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TemporaryDirectory() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Document MakeDocument(std::string id, std::string text) {
  Document document;
  document.id = std::move(id);
  document.text = std::move(text);
  return document;
}

struct Fixture {
  TemporaryDirectory directory;
  std::unique_ptr<Catalog> catalog;
  std::shared_ptr<Collection> collection;
  std::string collection_directory;

  explicit Fixture(uint64_t max_segment_bytes = 64ull << 20) {
    CatalogOptions options;
    options.data_directory = directory.path();
    options.log.sync = false;
    options.log.max_segment_bytes = max_segment_bytes;
    catalog = *Catalog::Open(options);
    CollectionConfig config;
    config.name = "docs";
    config.dimension = 64;
    config.index_spec = "Flat";
    absl::StatusOr<std::shared_ptr<Collection>> created = catalog->Create(config);
    REQUIRE(created.ok());
    collection = *created;
    collection_directory = directory.path() + "/collections/docs";
  }

  std::unique_ptr<CollectionIndexer> Indexer(absl::Duration grace = absl::Minutes(2)) {
    IndexerOptions options;
    options.threads = 1;
    options.garbage_grace = grace;
    absl::StatusOr<std::unique_ptr<CollectionIndexer>> indexer =
        CollectionIndexer::Acquire(collection_directory, collection->config(), options);
    REQUIRE(indexer.ok());
    return *std::move(indexer);
  }

  // Lexical hits as (document id, score), best first.
  std::vector<std::pair<std::string, float>> ScoredSearch(const std::string& text) {
    SearchQuery query;
    query.text = text;
    query.mode = SearchMode::kLexical;
    absl::StatusOr<SearchResult> result = collection->Search(query);
    REQUIRE(result.ok());
    std::vector<std::pair<std::string, float>> hits;
    for (const Hit& hit : result->hits) hits.emplace_back(hit.document_id, hit.score);
    return hits;
  }

  std::vector<std::string> Search(const std::string& text, int top_k = 10) {
    SearchQuery query;
    query.text = text;
    query.mode = SearchMode::kLexical;
    query.top_k = top_k;
    absl::StatusOr<SearchResult> result = collection->Search(query);
    REQUIRE(result.ok());
    std::vector<std::string> ids;
    for (const Hit& hit : result->hits) ids.push_back(hit.document_id);
    return ids;
  }
};

bool Contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

TEST_CASE("the log tail becomes a shard that the collection serves", "[indexer]") {
  Fixture fixture;
  REQUIRE(fixture.collection
              ->Ingest({MakeDocument("a", "alpine meadows bloom in summer"),
                        MakeDocument("b", "basalt columns cool from lava")})
              .ok());
  auto indexer = fixture.Indexer();
  absl::StatusOr<IndexerStepResult> step = indexer->IndexLog();
  REQUIRE(step.ok());
  CHECK(step->published);
  CHECK(step->generation == 1);
  CHECK(step->documents == 2);
  // Nothing new: no new generation.
  absl::StatusOr<IndexerStepResult> idle = indexer->IndexLog();
  REQUIRE(idle.ok());
  CHECK_FALSE(idle->published);

  REQUIRE(fixture.collection->CatchUp().ok());
  const CollectionStatistics statistics = fixture.collection->Statistics();
  CHECK(statistics.shards == 1);
  CHECK(statistics.generation == 1);
  CHECK(statistics.fresh_chunks == 0);
  CHECK(statistics.documents == 2);
  CHECK(fixture.Search("basalt lava").front() == "b");
  absl::StatusOr<StoredDocument> a = fixture.collection->GetDocument("a");
  REQUIRE(a.ok());
  CHECK(a->text == "alpine meadows bloom in summer");
}

TEST_CASE("newer records hide shard copies, before and after the next shard", "[indexer]") {
  Fixture fixture;
  REQUIRE(fixture.collection
              ->Ingest({MakeDocument("a", "alpine meadows bloom in summer"),
                        MakeDocument("b", "basalt columns cool from lava"),
                        MakeDocument("c", "coral reefs shelter fish")})
              .ok());
  auto indexer = fixture.Indexer();
  REQUIRE(indexer->IndexLog().ok());
  REQUIRE(fixture.collection->CatchUp().ok());

  // Upsert and delete documents that live in the shard: the fresh tail wins at once.
  REQUIRE(fixture.collection->Ingest({MakeDocument("a", "arctic tundra freezes in winter")}).ok());
  absl::StatusOr<int64_t> deleted = fixture.collection->Delete({"b"});
  REQUIRE(deleted.ok());
  CHECK(*deleted == 1);
  auto check_state = [&] {
    CHECK_FALSE(Contains(fixture.Search("alpine meadows"), "a"));
    CHECK(fixture.Search("arctic tundra").front() == "a");
    CHECK(fixture.Search("basalt lava").empty());
    CHECK(absl::IsNotFound(fixture.collection->GetDocument("b").status()));
    CHECK(fixture.collection->Statistics().documents == 2);
  };
  check_state();

  // The next shard carries the new copy; the old ones become tombstones.
  absl::StatusOr<IndexerStepResult> step = indexer->IndexLog();
  REQUIRE(step.ok());
  CHECK(step->generation == 2);
  REQUIRE(fixture.collection->CatchUp().ok());
  CHECK(fixture.collection->Statistics().shards == 2);
  check_state();
  absl::StatusOr<Manifest> manifest = ReadManifest(fixture.collection_directory);
  REQUIRE(manifest.ok());
  const std::vector<std::string>& tombstones = manifest->tombstones[manifest->shards[0].id];
  CHECK(std::set<std::string>(tombstones.begin(), tombstones.end()) ==
        std::set<std::string>{"a", "b"});

  // A fresh process sees the same.
  CatalogOptions options;
  options.data_directory = fixture.directory.path();
  auto reopened = *Catalog::Open(options);
  fixture.collection = *reopened->Get("docs");
  check_state();
}

TEST_CASE("BM25 scores do not depend on how the collection is split into shards", "[indexer]") {
  const std::vector<Document> documents = {
      MakeDocument("d0", "glacier ice melts into the alpine lake"),
      MakeDocument("d1", "the lake freezes and the ice thickens"),
      MakeDocument("d2", "volcanic basalt and lava fields"),
      MakeDocument("d3", "lava flows reach the sea and steam rises"),
      MakeDocument("d4", "coral reefs shelter fish near the sea"),
      MakeDocument("d5", "fish migrate up the river to the lake"),
      MakeDocument("d6", "ice ice ice everywhere on the glacier"),
      MakeDocument("d7", "river deltas build fertile plains"),
  };
  // Split: two shards (d0-d2 and an older d6, d3-d5) and the fresh tail (d6, d7), whose d6
  // hides the shard's copy. Whole: one shard of the live documents.
  Fixture split;
  REQUIRE(split.collection
              ->Ingest({documents[0], documents[1], documents[2],
                        MakeDocument("d6", "lava lava ice sea river glacier fish")})
              .ok());
  auto split_indexer = split.Indexer();
  REQUIRE(split_indexer->IndexLog().ok());
  REQUIRE(split.collection->Ingest({documents[3], documents[4], documents[5]}).ok());
  REQUIRE(split_indexer->IndexLog().ok());
  REQUIRE(split.collection->CatchUp().ok());
  REQUIRE(split.collection->Ingest({documents[6], documents[7]}).ok());
  REQUIRE(split.collection->CatchUp().ok());
  REQUIRE(split.collection->Statistics().shards == 2);
  REQUIRE(split.collection->Statistics().fresh_chunks == 2);

  Fixture whole;
  REQUIRE(whole.collection->Ingest(documents).ok());
  REQUIRE(whole.Indexer()->IndexLog().ok());
  REQUIRE(whole.collection->CatchUp().ok());
  REQUIRE(whole.collection->Statistics().shards == 1);

  for (const char* text : {"ice lake", "lava sea", "fish river lake", "glacier"}) {
    INFO("query: " << text);
    const std::vector<std::pair<std::string, float>> got = split.ScoredSearch(text);
    const std::vector<std::pair<std::string, float>> want = whole.ScoredSearch(text);
    REQUIRE(got.size() == want.size());
    REQUIRE_FALSE(got.empty());
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].first == want[i].first);
      CHECK(got[i].second == Approx(want[i].second).epsilon(1e-6));
    }
  }
}

TEST_CASE("merging shards keeps every live document exactly once", "[indexer]") {
  Fixture fixture;
  auto indexer = fixture.Indexer();
  for (int round = 0; round < 4; ++round) {
    std::vector<Document> batch;
    for (int i = 0; i < 5; ++i) {
      const std::string id = "d" + std::to_string(round * 5 + i);
      batch.push_back(MakeDocument(id, "common words plus token" + id));
    }
    REQUIRE(fixture.collection->Ingest(batch).ok());
    if (round == 3) REQUIRE(fixture.collection->Delete({"d2"}).ok());
    REQUIRE(indexer->IndexLog().ok());
  }
  REQUIRE(fixture.collection->CatchUp().ok());
  CHECK(fixture.collection->Statistics().shards == 4);
  absl::StatusOr<IndexerStepResult> merged = indexer->MergeShards();
  REQUIRE(merged.ok());
  CHECK(merged->published);
  CHECK(merged->documents == 19);
  REQUIRE(fixture.collection->CatchUp().ok());
  const CollectionStatistics statistics = fixture.collection->Statistics();
  CHECK(statistics.shards == 1);
  CHECK(statistics.documents == 19);
  const std::vector<std::string> ids = fixture.Search("common words", 100);
  CHECK(ids.size() == 19);
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 19);
  CHECK_FALSE(Contains(ids, "d2"));
  CHECK(fixture.Search("tokend17").front() == "d17");
}

TEST_CASE("one indexer per collection", "[indexer]") {
  Fixture fixture;
  auto first = fixture.Indexer();
  absl::StatusOr<std::unique_ptr<CollectionIndexer>> second = CollectionIndexer::Acquire(
      fixture.collection_directory, fixture.collection->config(), IndexerOptions{});
  CHECK(absl::IsUnavailable(second.status()));
  CHECK_THAT(std::string(second.status().message()), Catch::Contains("another quarry-indexer"));
  first.reset();
  CHECK(CollectionIndexer::Acquire(fixture.collection_directory, fixture.collection->config(),
                                   IndexerOptions{})
            .ok());
}

TEST_CASE("garbage collection removes unpublished shards and covered log segments", "[indexer]") {
  Fixture fixture(/*max_segment_bytes=*/4096);
  for (int i = 0; i < 20; ++i) {
    REQUIRE(fixture.collection
                ->Ingest({MakeDocument("d" + std::to_string(i), std::string(600, 'x') + " word")})
                .ok());
  }
  auto count_segments = [&] {
    int segments = 0;
    for (const auto& entry :
         std::filesystem::directory_iterator(fixture.collection_directory + "/log")) {
      if (entry.path().extension() == ".qlog") ++segments;
    }
    return segments;
  };
  const int segments_before = count_segments();
  REQUIRE(segments_before > 2);
  // A build that crashed before publishing leaves a shard no manifest names.
  std::filesystem::create_directories(fixture.collection_directory + "/shards/orphan");
  auto indexer = fixture.Indexer(/*grace=*/absl::ZeroDuration());
  REQUIRE(indexer->IndexLog().ok());
  REQUIRE(indexer->CollectGarbage().ok());
  CHECK_FALSE(std::filesystem::exists(fixture.collection_directory + "/shards/orphan"));
  CHECK(count_segments() < segments_before);
  REQUIRE(fixture.collection->CatchUp().ok());
  CHECK(fixture.collection->Statistics().documents == 20);
  // New writes still land and are served after the covered segments are gone.
  REQUIRE(fixture.collection->Ingest({MakeDocument("late", "a late arrival")}).ok());
  CHECK(fixture.Search("late arrival").front() == "late");
}

TEST_CASE("a corrupt shard is refused and the rest keeps serving", "[indexer]") {
  Fixture fixture;
  auto indexer = fixture.Indexer();
  REQUIRE(fixture.collection->Ingest({MakeDocument("a", "first shard text")}).ok());
  REQUIRE(indexer->IndexLog().ok());
  REQUIRE(fixture.collection->Ingest({MakeDocument("b", "second shard text")}).ok());
  REQUIRE(indexer->IndexLog().ok());
  absl::StatusOr<Manifest> manifest = ReadManifest(fixture.collection_directory);
  REQUIRE(manifest.ok());
  const std::string victim =
      fixture.collection_directory + "/shards/" + manifest->shards[0].id + "/chunks.bin";
  {
    std::fstream file(victim, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(100);
    file.put('\x5a');
  }
  CatalogOptions options;
  options.data_directory = fixture.directory.path();
  auto reopened = *Catalog::Open(options);
  absl::StatusOr<std::shared_ptr<Collection>> collection = reopened->Get("docs");
  REQUIRE(collection.ok());
  const std::vector<absl::Status> errors = (*collection)->ShardErrors();
  REQUIRE(errors.size() == 1);
  CHECK(absl::IsDataLoss(errors[0]));
  CHECK_THAT(std::string(errors[0].message()), Catch::Contains("chunks.bin"));
  CHECK((*collection)->GetDocument("b").ok());
  CHECK(absl::IsNotFound((*collection)->GetDocument("a").status()));
}

}  // namespace
}  // namespace quarry
