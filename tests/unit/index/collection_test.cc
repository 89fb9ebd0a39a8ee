#include "index/collection.h"

#include <stdlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "index/catalog.h"
#include "index/embed/hashing_embedder.h"

namespace quarry {
namespace {

class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    char pattern[] = "/tmp/quarry-collection-test-XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TemporaryDirectory() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Document MakeDocument(std::string id, std::string text, Metadata metadata = {}) {
  Document document;
  document.id = std::move(id);
  document.text = std::move(text);
  document.metadata = std::move(metadata);
  return document;
}

std::unique_ptr<Catalog> OpenCatalog(const std::string& directory,
                                     std::shared_ptr<HelperThreads> search_helpers = nullptr) {
  CatalogOptions options;
  options.data_directory = directory;
  options.log.sync = false;
  options.resources.search_helpers = std::move(search_helpers);
  absl::StatusOr<std::unique_ptr<Catalog>> catalog = Catalog::Open(options);
  REQUIRE(catalog.ok());
  return *std::move(catalog);
}

std::shared_ptr<Collection> CreateCollection(Catalog& catalog, const std::string& name,
                                             std::string index_spec = "") {
  CollectionConfig config;
  config.name = name;
  config.dimension = 256;
  config.index_spec = std::move(index_spec);
  absl::StatusOr<std::shared_ptr<Collection>> collection = catalog.Create(config);
  REQUIRE(collection.ok());
  return *collection;
}

std::vector<std::string> SearchIds(const Collection& collection, const std::string& text,
                                   SearchMode mode = SearchMode::kDefault, int top_k = 10) {
  SearchQuery query;
  query.text = text;
  query.mode = mode;
  query.top_k = top_k;
  absl::StatusOr<SearchResult> result = collection.Search(query);
  REQUIRE(result.ok());
  std::vector<std::string> ids;
  for (const Hit& hit : result->hits) ids.push_back(hit.document_id);
  return ids;
}

const std::vector<Document>& Corpus() {
  static const auto* corpus = new std::vector<Document>{
      MakeDocument("volcano", "Volcanoes erupt when magma rises through the crust of the earth.",
                   {{"topic", std::string("geology")}, {"year", 2001.0}}),
      MakeDocument("bread", "Bread dough rises because yeast ferments sugar into carbon dioxide.",
                   {{"topic", std::string("cooking")}, {"year", 2015.0}}),
      MakeDocument("orbit", "Planets orbit the sun on elliptical paths described by Kepler.",
                   {{"topic", std::string("astronomy")}, {"year", 1999.0}}),
      MakeDocument("glacier", "Glaciers carve valleys as the ice slowly flows downhill.",
                   {{"topic", std::string("geology")}, {"year", 2020.0}}),
  };
  return *corpus;
}

TEST_CASE("ingested documents are found by every search mode", "[collection]") {
  TemporaryDirectory directory;
  auto catalog = OpenCatalog(directory.path());
  auto collection = CreateCollection(*catalog, "docs");
  absl::StatusOr<IngestResult> ingested = collection->Ingest(Corpus());
  REQUIRE(ingested.ok());
  CHECK(ingested->ids == std::vector<std::string>{"volcano", "bread", "orbit", "glacier"});
  CHECK(ingested->chunks == 4);
  for (SearchMode mode : {SearchMode::kDense, SearchMode::kLexical, SearchMode::kHybrid}) {
    CAPTURE(static_cast<int>(mode));
    CHECK(SearchIds(*collection, "magma eruptions", mode).front() == "volcano");
    CHECK(SearchIds(*collection, "yeast fermenting dough", mode).front() == "bread");
  }
  const CollectionStatistics statistics = collection->Statistics();
  CHECK(statistics.documents == 4);
  CHECK(statistics.chunks == 4);
  CHECK(statistics.disk_bytes > 0);
}

TEST_CASE("hybrid search gives the same hits with its legs run side by side", "[collection]") {
  TemporaryDirectory directory;
  {
    auto catalog = OpenCatalog(directory.path());
    auto collection = CreateCollection(*catalog, "docs");
    REQUIRE(collection->Ingest(Corpus()).ok());
  }
  auto sequential = OpenCatalog(directory.path());
  auto parallel = OpenCatalog(directory.path(), std::make_shared<HelperThreads>(2));
  absl::StatusOr<std::shared_ptr<Collection>> one = sequential->Get("docs");
  absl::StatusOr<std::shared_ptr<Collection>> other = parallel->Get("docs");
  REQUIRE(one.ok());
  REQUIRE(other.ok());
  for (const char* text : {"magma eruptions", "yeast fermenting dough", "ice flows", "planets"}) {
    SearchQuery query;
    query.text = text;
    query.mode = SearchMode::kHybrid;
    absl::StatusOr<SearchResult> expected = (*one)->Search(query);
    absl::StatusOr<SearchResult> actual = (*other)->Search(query);
    REQUIRE(expected.ok());
    REQUIRE(actual.ok());
    REQUIRE(actual->hits.size() == expected->hits.size());
    REQUIRE_FALSE(actual->hits.empty());
    for (size_t i = 0; i < expected->hits.size(); ++i) {
      CHECK(actual->hits[i].chunk_id == expected->hits[i].chunk_id);
      CHECK(actual->hits[i].score == expected->hits[i].score);
      CHECK(actual->hits[i].dense_score == expected->hits[i].dense_score);
      CHECK(actual->hits[i].lexical_score == expected->hits[i].lexical_score);
    }
    CHECK(actual->timings.dense_ms > 0);
    CHECK(actual->timings.lexical_ms > 0);
  }
}

TEST_CASE("upsert replaces a document and delete removes it", "[collection]") {
  TemporaryDirectory directory;
  auto catalog = OpenCatalog(directory.path());
  auto collection = CreateCollection(*catalog, "docs");
  REQUIRE(collection->Ingest(Corpus()).ok());
  REQUIRE(collection->Ingest({MakeDocument("volcano", "Tides follow the pull of the moon.")}).ok());
  CHECK(collection->Statistics().documents == 4);
  for (const std::string& id : SearchIds(*collection, "magma crust erupt", SearchMode::kLexical)) {
    CHECK(id != "volcano");
  }
  CHECK(SearchIds(*collection, "moon tides", SearchMode::kLexical).front() == "volcano");

  absl::StatusOr<int64_t> deleted = collection->Delete({"volcano", "no-such-id"});
  REQUIRE(deleted.ok());
  CHECK(*deleted == 1);
  CHECK(collection->Statistics().documents == 3);
  CHECK(absl::IsNotFound(collection->GetDocument("volcano").status()));
  for (const std::string& id : SearchIds(*collection, "moon tides", SearchMode::kHybrid)) {
    CHECK(id != "volcano");
  }
}

TEST_CASE("a reopened catalog replays the log to the same state", "[collection]") {
  TemporaryDirectory directory;
  {
    auto catalog = OpenCatalog(directory.path());
    auto collection = CreateCollection(*catalog, "docs");
    REQUIRE(collection->Ingest(Corpus()).ok());
    REQUIRE(collection->Delete({"bread"}).ok());
    REQUIRE(collection->Ingest({MakeDocument("orbit", "Comets orbit with long periods.")}).ok());
  }
  auto catalog = OpenCatalog(directory.path());
  absl::StatusOr<std::shared_ptr<Collection>> collection = catalog->Get("docs");
  REQUIRE(collection.ok());
  CHECK((*collection)->Statistics().documents == 3);
  CHECK(absl::IsNotFound((*collection)->GetDocument("bread").status()));
  absl::StatusOr<StoredDocument> orbit = (*collection)->GetDocument("orbit");
  REQUIRE(orbit.ok());
  CHECK(orbit->text == "Comets orbit with long periods.");
  CHECK(std::get<std::string>((*collection)->GetDocument("glacier")->metadata.at("topic")) ==
        "geology");
}

TEST_CASE("two catalogs on one directory see each other's writes", "[collection]") {
  TemporaryDirectory directory;
  auto first = OpenCatalog(directory.path());
  auto second = OpenCatalog(directory.path());
  auto collection = CreateCollection(*first, "shared");
  REQUIRE(second->Refresh().ok());
  absl::StatusOr<std::shared_ptr<Collection>> other = second->Get("shared");
  REQUIRE(other.ok());
  REQUIRE(collection->Ingest({Corpus()[0]}).ok());
  REQUIRE((*other)->Ingest({Corpus()[1]}).ok());  // catches up with the first write too
  CHECK((*other)->Statistics().documents == 2);
  REQUIRE(collection->CatchUp().ok());
  CHECK(collection->Statistics().documents == 2);
  CHECK(SearchIds(*collection, "yeast", SearchMode::kLexical).front() == "bread");
}

TEST_CASE("bad documents are rejected and change nothing", "[collection]") {
  TemporaryDirectory directory;
  auto catalog = OpenCatalog(directory.path());
  auto collection = CreateCollection(*catalog, "docs");
  REQUIRE(collection->Ingest(Corpus()).ok());
  const CollectionStatistics before = collection->Statistics();

  Document wrong_vector = MakeDocument("v", "text");
  wrong_vector.vector = {1.0f, 2.0f};
  Document bad_key = MakeDocument("k", "text", {{"bad key!", true}});
  const std::vector<std::pair<std::vector<Document>, std::string>> cases = {
      {{MakeDocument("empty", "")}, "documents[0].text: is empty"},
      {{MakeDocument("utf8", "caf\xc3")}, "not valid UTF-8"},
      {{MakeDocument("punct", "   \n ")}, "no words"},
      {{Corpus()[0], wrong_vector}, "documents[1].vector: has dimension 2"},
      {{bad_key}, "key 'bad key!'"},
      {{MakeDocument("same", "one"), MakeDocument("same", "two")}, "more than once"},
      {{MakeDocument("nan", "x", {{"score", std::nan("")}})}, "finite"},
      {{}, "at least one"},
  };
  for (const auto& [documents, expected] : cases) {
    absl::StatusOr<IngestResult> result = collection->Ingest(documents);
    CAPTURE(expected);
    REQUIRE(absl::IsInvalidArgument(result.status()));
    CHECK_THAT(std::string(result.status().message()), Catch::Contains(expected));
  }
  const CollectionStatistics after = collection->Statistics();
  CHECK(after.documents == before.documents);
  CHECK(after.chunks == before.chunks);
  CHECK(after.disk_bytes == before.disk_bytes);
}

TEST_CASE("bad queries are rejected with a clear message", "[collection]") {
  TemporaryDirectory directory;
  auto catalog = OpenCatalog(directory.path());
  auto collection = CreateCollection(*catalog, "docs");
  REQUIRE(collection->Ingest(Corpus()).ok());
  SearchQuery query;
  query.text = "magma";
  query.top_k = 0;
  CHECK(absl::IsInvalidArgument(collection->Search(query).status()));
  query.top_k = 1001;
  CHECK(absl::IsInvalidArgument(collection->Search(query).status()));
  query.top_k = 10;
  query.vector = {1.0f};
  CHECK(absl::IsInvalidArgument(collection->Search(query).status()));  // both text and vector
  query.text.clear();
  CHECK_THAT(std::string(collection->Search(query).status().message()),
             Catch::Contains("dimension 1"));
  query.vector.assign(256, 0.1f);
  query.mode = SearchMode::kLexical;
  CHECK(absl::IsInvalidArgument(collection->Search(query).status()));
  query.vector.clear();
  query.text = "x";
  query.filter = Filter{};  // kAll without children
  CHECK(absl::IsInvalidArgument(collection->Search(query).status()));
  query.filter.reset();
  query.feedback_documents = -1;
  CHECK(absl::IsInvalidArgument(collection->Search(query).status()));
  query.feedback_documents = 3;
  query.feedback.original_weight = 1.5f;
  CHECK(absl::IsInvalidArgument(collection->Search(query).status()));
}

TEST_CASE("relevance feedback finds a chunk that holds none of the query's words",
          "[collection][feedback]") {
  TemporaryDirectory directory;
  auto catalog = OpenCatalog(directory.path());
  auto collection = CreateCollection(*catalog, "docs");
  std::vector<Document> corpus = Corpus();
  corpus.push_back(MakeDocument("caldera", "A caldera forms after a volcano collapses."));
  corpus.push_back(MakeDocument("lava", "Lava and magma flow from a volcano."));
  corpus.push_back(MakeDocument("basalt", "Lava cools into basalt."));  // no query word
  REQUIRE(collection->Ingest(corpus).ok());
  SearchQuery query;
  query.text = "magma volcano";
  query.mode = SearchMode::kLexical;
  auto ids = [&]() {
    absl::StatusOr<SearchResult> result = collection->Search(query);
    REQUIRE(result.ok());
    std::vector<std::string> found;
    for (const Hit& hit : result->hits) found.push_back(hit.document_id);
    return found;
  };
  const std::vector<std::string> plain = ids();  // lexical mode: no feedback by default
  CHECK(std::find(plain.begin(), plain.end(), "basalt") == plain.end());
  query.feedback_documents = 1;  // "lava" ranks first: both query words, shortest chunk
  const std::vector<std::string> expanded = ids();
  REQUIRE(!expanded.empty());
  CHECK(expanded.front() == "lava");
  CHECK(std::find(expanded.begin(), expanded.end(), "basalt") != expanded.end());
}

TEST_CASE("filters keep top_k full and exclude non-matching documents", "[collection]") {
  TemporaryDirectory directory;
  auto catalog = OpenCatalog(directory.path());
  auto collection = CreateCollection(*catalog, "many", "Flat");
  std::vector<Document> documents;
  for (int i = 0; i < 400; ++i) {
    documents.push_back(MakeDocument(
        "d" + std::to_string(i), "shared words about rivers and lakes number " + std::to_string(i),
        {{"bucket", static_cast<double>(i % 20)}}));
  }
  REQUIRE(collection->Ingest(documents).ok());
  for (SearchMode mode : {SearchMode::kDense, SearchMode::kLexical, SearchMode::kHybrid}) {
    SearchQuery query;
    query.text = "rivers and lakes";
    query.mode = mode;
    query.top_k = 15;
    Filter filter;
    filter.kind = Filter::Kind::kEquals;
    filter.field = "bucket";
    filter.values = {3.0};  // 20 of 400 documents: 5%
    query.filter = filter;
    absl::StatusOr<SearchResult> result = collection->Search(query);
    REQUIRE(result.ok());
    CHECK(result->hits.size() == 15);
    for (const Hit& hit : result->hits) {
      CHECK(std::get<double>(hit.metadata.at("bucket")) == 3.0);
    }
  }
}

TEST_CASE("MMR demotes near-duplicate chunks in every mode", "[collection]") {
  TemporaryDirectory directory;
  auto catalog = OpenCatalog(directory.path());
  auto collection = CreateCollection(*catalog, "docs", "Flat");
  const std::string original = "Glaciers carve deep valleys as the ice slowly flows downhill.";
  REQUIRE(collection
              ->Ingest({MakeDocument("a", original), MakeDocument("a-copy", original),
                        MakeDocument("a-copy-2", original + " Indeed."),
                        MakeDocument("other", "Ice sheets and glaciers store most fresh water.")})
              .ok());
  for (SearchMode mode : {SearchMode::kDense, SearchMode::kLexical, SearchMode::kHybrid}) {
    SearchQuery query;
    query.text = "glaciers carve valleys ice";
    query.mode = mode;
    query.top_k = 2;
    absl::StatusOr<SearchResult> plain = collection->Search(query);
    REQUIRE(plain.ok());
    REQUIRE(plain->hits.size() == 2);
    // Without MMR the two best are copies of the same text.
    CHECK(plain->hits[1].document_id != "other");
    // Relevance and novelty weighed 3:7: an exact copy of a picked chunk (similarity 1) loses
    // to a new one a third as relevant.
    query.mmr_lambda = 0.3f;
    absl::StatusOr<SearchResult> diverse = collection->Search(query);
    REQUIRE(diverse.ok());
    REQUIRE(diverse->hits.size() == 2);
    CHECK(diverse->hits[0].document_id == plain->hits[0].document_id);
    CHECK(diverse->hits[1].document_id == "other");
  }
  SearchQuery bad;
  bad.text = "ice";
  bad.mmr_lambda = 1.5f;
  CHECK(absl::IsInvalidArgument(collection->Search(bad).status()));
}

TEST_CASE("catalog validates names and reports broken collections", "[catalog]") {
  TemporaryDirectory directory;
  auto catalog = OpenCatalog(directory.path());
  for (const std::string& name :
       std::vector<std::string>{"", "../etc", "UPPER", "a/b", "with space", std::string(65, 'a'),
                                "-leading", ".hidden"}) {
    CollectionConfig config;
    config.name = name;
    CAPTURE(name);
    CHECK(absl::IsInvalidArgument(catalog->Create(config).status()));
  }
  CHECK(std::filesystem::is_empty(directory.path() + "/collections"));

  CreateCollection(*catalog, "good");
  auto broken = CreateCollection(*catalog, "broken");
  REQUIRE(broken->Ingest(Corpus()).ok());
  REQUIRE(broken->Ingest({MakeDocument("extra", "one more record after the first")}).ok());
  CollectionConfig duplicate;
  duplicate.name = "good";
  CHECK(absl::IsAlreadyExists(catalog->Create(duplicate).status()));

  // Flip a byte inside the first record of the broken collection's log.
  std::string segment;
  for (const auto& entry :
       std::filesystem::directory_iterator(directory.path() + "/collections/broken/log")) {
    if (entry.path().extension() == ".qlog") segment = entry.path();
  }
  REQUIRE(!segment.empty());
  {
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(40);
    file.put('\x7f');
  }
  auto reopened = OpenCatalog(directory.path());
  absl::StatusOr<std::shared_ptr<Collection>> failed = reopened->Get("broken");
  CHECK(absl::IsDataLoss(failed.status()));
  CHECK_THAT(std::string(failed.status().message()), Catch::Contains("broken"));
  CHECK(reopened->Get("good").ok());
  CHECK(reopened->List().size() == 1);

  REQUIRE(reopened->Delete("good").ok());
  CHECK(absl::IsNotFound(reopened->Get("good").status()));
  CHECK(absl::IsNotFound(reopened->Delete("good")));
  CHECK(!std::filesystem::exists(directory.path() + "/collections/good"));
}

}  // namespace
}  // namespace quarry
