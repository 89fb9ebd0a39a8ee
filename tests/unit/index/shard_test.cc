#include "index/shard/shard.h"

#include <stdlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "index/document.h"
#include "index/embed/hashing_embedder.h"
#include "index/huge_page_collapser.h"
#include "index/search/bm25_index.h"
#include "index/search/dense_index.h"
#include "index/search/label_set.h"
#include "index/search/scored_label.h"
#include "index/shard/shard_builder.h"
#include "index/text/analyzer.h"
#include "index/text/chunk_text.h"
#include "index/text/chunker.h"

namespace quarry {
namespace {

constexpr int kDimension = 64;
const char* const kShardFiles[] = {"dense.faiss", "lexical.bin", "chunks.bin", "SHARD"};

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/quarry-shard-test-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(absl::string_view name) const { return absl::StrCat(path_, "/", name); }

 private:
  std::string path_;
};

const text::Analyzer& TestAnalyzer() {
  static const text::Analyzer* const analyzer = new text::Analyzer();
  return *analyzer;
}

const HashingEmbedder& TestEmbedder() {
  static const HashingEmbedder* const embedder = [] {
    absl::StatusOr<std::unique_ptr<HashingEmbedder>> created =
        HashingEmbedder::Create(HashingEmbedderOptions{kDimension});
    return created->release();
  }();
  return *embedder;
}

std::vector<float> Embed(absl::string_view text) {
  std::vector<float> vector(kDimension);
  TestEmbedder().EmbedOne(std::string_view(text.data(), text.size()), vector.data());
  return vector;
}

// Made-up words: syllable soup, a few real words (for the stemmer) and some non-ASCII.
std::vector<std::string> Vocabulary() {
  const char* const syllables[] = {"ka", "lo",  "mer", "tin", "sa",  "vo",  "rel", "pha",
                                   "du", "gri", "on",  "ze",  "bar", "qui", "nol", "est"};
  std::vector<std::string> words;
  for (const char* a : syllables) {
    for (const char* b : syllables) words.push_back(absl::StrCat(a, b));
  }
  for (const char* word : {"protein", "proteins", "cells", "cell", "running", "runs", "café",
                           "naïve", "Zürich", "日本語", "the", "and", "of", "CRISPR", "2023"}) {
    words.emplace_back(word);
  }
  return words;
}

// Documents are about one of kTopics topics: most of their words come from the topic's own
// slice of the vocabulary, so the vectors cluster the way real embeddings do.
constexpr int kTopics = 16;
constexpr int kWordsPerTopic = 16;

// A word of `topic` most of the time, any word otherwise.
const std::string& TopicalWord(const std::vector<std::string>& vocabulary, int topic,
                               std::mt19937& random) {
  if (std::uniform_int_distribution<int>(0, 99)(random) < 85) {
    return vocabulary[static_cast<size_t>(
        topic * kWordsPerTopic +
        std::uniform_int_distribution<int>(0, kWordsPerTopic - 1)(random))];
  }
  return vocabulary[std::uniform_int_distribution<size_t>(0, vocabulary.size() - 1)(random)];
}

// `count` documents with 1..many chunks (and one with none), titles, metadata of every kind
// and vectors from the hashing embedder, like a collection would store them.
std::vector<StoredDocument> MakeDocuments(int count, uint32_t seed, int min_words = 10,
                                          int max_words = 140) {
  const std::vector<std::string> vocabulary = Vocabulary();
  std::mt19937 random(seed);
  std::vector<StoredDocument> documents;
  for (int i = 0; i < count; ++i) {
    StoredDocument document;
    document.id = absl::StrCat("doc-", seed, "-", i);
    const int topic = std::uniform_int_distribution<int>(0, kTopics - 1)(random);
    if (i % 3 != 0) document.title = absl::StrCat(TopicalWord(vocabulary, topic, random), " title");
    const int words = std::uniform_int_distribution<int>(min_words, max_words)(random);
    for (int w = 0; w < words; ++w) {
      if (w > 0) document.text += (w % 23 == 0) ? ".\n\n" : (w % 9 == 0 ? ". " : " ");
      document.text += TopicalWord(vocabulary, topic, random);
    }
    document.text += ".";
    if (i % 2 == 0) document.metadata["source"] = std::string(i % 4 == 0 ? "web" : "pdf");
    if (i % 5 != 0) document.metadata["year"] = 1990.0 + i % 30;
    if (i % 7 == 0) document.metadata["reviewed"] = i % 14 == 0;
    if (i == 3) document.metadata["note"] = std::string("");  // empty string value
    if (i != 11) {                                            // document 11 has no chunks at all
      for (const text::ChunkSpan& span : text::ChunkText(document.text, {16, 4})) {
        const absl::string_view chunk_text =
            absl::string_view(document.text).substr(span.start, span.end - span.start);
        document.chunks.push_back(StoredChunk{
            span.start, span.end, Embed(text::ChunkTextWithTitle(document.title, chunk_text))});
      }
    }
    documents.push_back(std::move(document));
  }
  return documents;
}

int64_t CountChunks(const std::vector<StoredDocument>& documents) {
  int64_t chunks = 0;
  for (const StoredDocument& document : documents) chunks += document.chunks.size();
  return chunks;
}

ShardBuildOptions Options(const char* spec = "Flat", int threads = 2) {
  ShardBuildOptions options;
  options.dimension = kDimension;
  options.index_spec = spec;
  options.metric = Metric::kInnerProduct;
  options.threads = threads;
  return options;
}

ShardInfo BuildShard(const std::vector<StoredDocument>& documents, const std::string& directory,
                     const std::string& id, const ShardBuildOptions& options = Options()) {
  absl::StatusOr<ShardInfo> info =
      ShardBuilder::Build(options, documents, TestAnalyzer(), directory, id);
  INFO(info.status().ToString());
  REQUIRE(info.ok());
  return *info;
}

std::unique_ptr<Shard> OpenShard(const std::string& directory) {
  absl::StatusOr<std::unique_ptr<Shard>> shard =
      Shard::Open(directory, kDimension, Metric::kInnerProduct);
  INFO(shard.status().ToString());
  REQUIRE(shard.ok());
  return *std::move(shard);
}

// The same chunks indexed the way a collection does it in memory.
struct InMemory {
  Bm25Index lexical;
  std::unique_ptr<DenseIndex> dense;
};

InMemory IndexInMemory(const std::vector<StoredDocument>& documents) {
  InMemory memory;
  absl::StatusOr<std::unique_ptr<DenseIndex>> dense =
      DenseIndex::Create(kDimension, "Flat", Metric::kInnerProduct);
  REQUIRE(dense.ok());
  memory.dense = *std::move(dense);
  int64_t label = 0;
  for (const StoredDocument& document : documents) {
    for (const StoredChunk& chunk : document.chunks) {
      memory.lexical.Add(
          label++,
          TestAnalyzer().Terms(text::ChunkTextWithTitle(
              document.title,
              absl::string_view(document.text).substr(chunk.start, chunk.end - chunk.start))));
      REQUIRE(memory.dense->Add(chunk.vector).ok());
    }
  }
  return memory;
}

// Query texts of one to four words of one topic.
std::vector<std::string> QueryTexts(int count, uint32_t seed) {
  const std::vector<std::string> vocabulary = Vocabulary();
  std::mt19937 random(seed);
  std::vector<std::string> queries;
  for (int q = 0; q < count; ++q) {
    std::string text;
    for (int w = 0; w < 1 + q % 4; ++w) {
      text += " " + TopicalWord(vocabulary, q % kTopics, random);
    }
    queries.push_back(text);
  }
  return queries;
}

std::vector<std::vector<std::string>> TextQueries(int count, uint32_t seed) {
  std::vector<std::vector<std::string>> queries;
  for (const std::string& text : QueryTexts(count, seed)) {
    queries.push_back(TestAnalyzer().Terms(text));
  }
  return queries;
}

void RequireSameHits(const std::vector<ScoredLabel>& got, const std::vector<ScoredLabel>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].label == want[i].label);
    CHECK(got[i].score == want[i].score);
  }
}

double Recall(const std::vector<ScoredLabel>& got, const std::vector<ScoredLabel>& want) {
  std::set<int64_t> truth;
  for (const ScoredLabel& hit : want) truth.insert(hit.label);
  int found = 0;
  for (const ScoredLabel& hit : got) found += static_cast<int>(truth.count(hit.label));
  return want.empty() ? 1.0 : static_cast<double>(found) / static_cast<double>(want.size());
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// A fresh copy of the shard in `source`, named `id`, with the same SHARD-recorded name: the
// copy lives under its own parent directory so its directory name still matches.
std::string CopyShard(const std::string& source, const TempDir& scratch, const std::string& id,
                      const std::string& label) {
  const std::string parent = scratch.Sub(label);
  std::filesystem::create_directories(parent);
  const std::string target = absl::StrCat(parent, "/", id);
  std::filesystem::copy(source, target, std::filesystem::copy_options::recursive);
  return target;
}

absl::Status OpenStatus(const std::string& directory) {
  return Shard::Open(directory, kDimension, Metric::kInnerProduct).status();
}

// --- Round trips -----------------------------------------------------------------------------

TEST_CASE("A shard returns every document and chunk byte for byte", "[shard]") {
  TempDir dir;
  const std::vector<StoredDocument> documents = MakeDocuments(300, 1);
  const ShardInfo info = BuildShard(documents, dir.Sub("shards"), "s-0001");
  CHECK(info.id == "s-0001");
  CHECK(info.documents == 300);
  CHECK(info.chunks == CountChunks(documents));
  CHECK(info.dense_trained);

  const std::unique_ptr<Shard> shard = OpenShard(dir.Sub("shards/s-0001"));
  CHECK(shard->id() == "s-0001");
  CHECK(shard->document_count() == 300);
  CHECK(shard->chunk_count() == info.chunks);
  CHECK(shard->bytes() == info.bytes);
  CHECK(shard->index_spec() == "Flat");
  CHECK(shard->dense().size() == info.chunks);
  CHECK(shard->lexical().live_chunks() == info.chunks);

  int64_t label = 0;
  for (int32_t i = 0; i < 300; ++i) {
    const StoredDocument& want = documents[static_cast<size_t>(i)];
    const DocumentView got = shard->document(i);
    REQUIRE(got.id == want.id);
    CHECK(got.title == want.title);
    CHECK(got.text == want.text);
    REQUIRE(got.metadata != nullptr);
    CHECK(*got.metadata == want.metadata);
    CHECK(got.first_label == label);
    CHECK(got.chunk_count == static_cast<int32_t>(want.chunks.size()));
    CHECK(shard->FindDocument(want.id) == i);
    for (size_t c = 0; c < want.chunks.size(); ++c, ++label) {
      const ChunkView chunk = shard->chunk(label);
      CHECK(chunk.document_index == i);
      CHECK(chunk.chunk_index == static_cast<int32_t>(c));
      CHECK(chunk.start == want.chunks[c].start);
      CHECK(chunk.end == want.chunks[c].end);
      CHECK(shard->chunk_text(label) ==
            absl::string_view(want.text).substr(want.chunks[c].start,
                                                want.chunks[c].end - want.chunks[c].start));
    }
  }
  CHECK(label == shard->chunk_count());
  CHECK_FALSE(shard->FindDocument("doc-missing").has_value());
  CHECK_FALSE(shard->FindDocument("").has_value());

  absl::StatusOr<std::vector<std::string>> ids = ListShardIds(dir.Sub("shards"));
  REQUIRE(ids.ok());
  CHECK(*ids == std::vector<std::string>{"s-0001"});
}

TEST_CASE("Shard search equals the same chunks indexed in memory", "[shard]") {
  TempDir dir;
  const std::vector<StoredDocument> documents = MakeDocuments(250, 2);
  BuildShard(documents, dir.Sub("shards"), "s1");
  const std::unique_ptr<Shard> shard = OpenShard(dir.Sub("shards/s1"));
  const InMemory memory = IndexInMemory(documents);

  CHECK(shard->lexical().live_chunks() == memory.lexical.live_chunks());
  CHECK(shard->lexical().live_total_length() == memory.lexical.live_total_length());
  for (const std::string& word : Vocabulary()) {
    for (const std::string& term : TestAnalyzer().Terms(word)) {
      CHECK(shard->lexical().document_frequency(term) == memory.lexical.document_frequency(term));
    }
  }

  LabelSet odd;
  for (int64_t label = 1; label < shard->chunk_count(); label += 2) odd.Insert(label);
  const Bm25Params params;
  for (const std::vector<std::string>& terms : TextQueries(40, 3)) {
    RequireSameHits(shard->lexical().Search(terms, 10, params, nullptr),
                    memory.lexical.Search(terms, 10, params, nullptr));
    RequireSameHits(shard->lexical().Search(terms, 7, params, &odd),
                    memory.lexical.Search(terms, 7, params, &odd));
  }
  for (int q = 0; q < 20; ++q) {
    const std::vector<float> query = Embed(absl::StrCat("query ", q, " protein cells kalo"));
    absl::StatusOr<std::vector<ScoredLabel>> got = shard->dense().Search(query, 10, nullptr);
    absl::StatusOr<std::vector<ScoredLabel>> want = memory.dense->Search(query, 10, nullptr);
    REQUIRE(got.ok());
    REQUIRE(want.ok());
    RequireSameHits(*got, *want);
    got = shard->dense().Search(query, 5, &odd);
    want = memory.dense->Search(query, 5, &odd);
    REQUIRE(got.ok());
    REQUIRE(want.ok());
    RequireSameHits(*got, *want);
  }
}

TEST_CASE("The huge-page collapser serves queued shards and skips released ones", "[shard]") {
  TempDir dir;
  const std::vector<StoredDocument> documents = MakeDocuments(120, 4);
  BuildShard(documents, dir.Sub("shards"), "s1");
  BuildShard(documents, dir.Sub("shards"), "s2");
  std::shared_ptr<const Shard> kept = OpenShard(dir.Sub("shards/s1"));
  std::shared_ptr<const Shard> released = OpenShard(dir.Sub("shards/s2"));
  const std::vector<float> query = Embed("query protein cells kalo");
  absl::StatusOr<std::vector<ScoredLabel>> before = kept->dense().Search(query, 10, nullptr);
  REQUIRE(before.ok());
  {
    HugePageCollapser collapser;
    collapser.Add(released);
    released.reset();  // no longer served before its turn: skipped, not kept alive
    collapser.Add(kept);
    collapser.WaitUntilIdle();
    // This shard is far smaller than a huge page: nothing to collapse, nothing changed.
    CHECK(collapser.collapsed() == 0);
    absl::StatusOr<std::vector<ScoredLabel>> after = kept->dense().Search(query, 10, nullptr);
    REQUIRE(after.ok());
    RequireSameHits(*after, *before);
    // Destroyed with work still queued: it drops the queue and returns.
    for (int i = 0; i < 3; ++i) collapser.Add(kept);
  }
  CHECK(kept.use_count() == 1);
}

TEST_CASE("Builds with one thread and with several write identical files", "[shard]") {
  TempDir dir;
  const std::vector<StoredDocument> documents = MakeDocuments(120, 4);
  BuildShard(documents, dir.Sub("one"), "s", Options("Flat", 1));
  BuildShard(documents, dir.Sub("four"), "s", Options("Flat", 4));
  for (const char* file : kShardFiles) {
    INFO(file);
    CHECK(ReadBytes(dir.Sub(absl::StrCat("one/s/", file))) ==
          ReadBytes(dir.Sub(absl::StrCat("four/s/", file))));
  }
}

TEST_CASE("An IVF shard is trained, memory-mapped and finds what Flat finds", "[shard]") {
  TempDir dir;
  // About 2,000 chunks: enough for 16 lists (39 x 16 = 624 training points).
  const std::vector<StoredDocument> documents = MakeDocuments(400, 5, 60, 140);
  const int64_t chunks = CountChunks(documents);
  REQUIRE(chunks >= 1500);
  const ShardInfo info = BuildShard(documents, dir.Sub("shards"), "ivf", Options("IVF16,Flat"));
  CHECK(info.dense_trained);
  const std::unique_ptr<Shard> shard = OpenShard(dir.Sub("shards/ivf"));
  CHECK(shard->dense().trained());
  CHECK(shard->dense().memory_mapped());
  CHECK(shard->dense().size() == chunks);
  CHECK(shard->index_spec() == "IVF16,Flat");

  const InMemory memory = IndexInMemory(documents);
  LabelSet sparse;  // small enough for the exact scan, which needs the IVF direct map
  for (int64_t label = 0; label < chunks; label += 50) sparse.Insert(label);
  double recall = 0;
  const int queries = 32;
  const std::vector<std::string> texts = QueryTexts(queries, 15);
  for (int q = 0; q < queries; ++q) {
    const std::vector<float> query = Embed(texts[static_cast<size_t>(q)]);
    absl::StatusOr<std::vector<ScoredLabel>> got = shard->dense().Search(query, 10, nullptr);
    absl::StatusOr<std::vector<ScoredLabel>> want = memory.dense->Search(query, 10, nullptr);
    REQUIRE(got.ok());
    REQUIRE(want.ok());
    REQUIRE(got->size() == 10);
    recall += Recall(*got, *want);

    got = shard->dense().Search(query, 10, &sparse);
    want = memory.dense->Search(query, 10, &sparse);
    REQUIRE(got.ok());
    REQUIRE(want.ok());
    REQUIRE(got->size() == want->size());
    for (size_t i = 0; i < got->size(); ++i) {
      CHECK((*got)[i].label == (*want)[i].label);
      CHECK((*got)[i].score == Approx((*want)[i].score).margin(1e-5));
    }
  }
  recall /= queries;
  INFO("IVF16 recall@10 against Flat: " << recall);
  CHECK(recall >= 0.9);
}

TEST_CASE("Too few vectors for the spec build an exact shard that says so", "[shard]") {
  TempDir dir;
  const std::vector<StoredDocument> documents = MakeDocuments(40, 6);
  REQUIRE(CountChunks(documents) < 16 * 39);
  const ShardInfo info = BuildShard(documents, dir.Sub("shards"), "small", Options("IVF16,Flat"));
  CHECK_FALSE(info.dense_trained);
  const std::unique_ptr<Shard> shard = OpenShard(dir.Sub("shards/small"));
  CHECK_FALSE(shard->dense().trained());
  CHECK_FALSE(shard->dense().memory_mapped());
  const InMemory memory = IndexInMemory(documents);
  const std::vector<float> query = Embed("kalo protein");
  absl::StatusOr<std::vector<ScoredLabel>> got = shard->dense().Search(query, 10, nullptr);
  absl::StatusOr<std::vector<ScoredLabel>> want = memory.dense->Search(query, 10, nullptr);
  REQUIRE(got.ok());
  REQUIRE(want.ok());
  RequireSameHits(*got, *want);
}

TEST_CASE("An HNSW shard answers concurrent searches like a single thread", "[shard]") {
  TempDir dir;
  const std::vector<StoredDocument> documents = MakeDocuments(200, 7);
  BuildShard(documents, dir.Sub("shards"), "h", Options("HNSW32"));
  const std::unique_ptr<Shard> shard = OpenShard(dir.Sub("shards/h"));
  const auto queries = TextQueries(16, 8);
  std::vector<std::vector<ScoredLabel>> lexical_want;
  std::vector<std::vector<ScoredLabel>> dense_want;
  for (size_t q = 0; q < queries.size(); ++q) {
    lexical_want.push_back(shard->lexical().Search(queries[q], 10, Bm25Params(), nullptr));
    dense_want.push_back(*shard->dense().Search(Embed(absl::StrCat("q", q)), 10, nullptr));
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (size_t q = 0; q < queries.size(); ++q) {
          const auto lexical = shard->lexical().Search(queries[q], 10, Bm25Params(), nullptr);
          const auto dense = shard->dense().Search(Embed(absl::StrCat("q", q)), 10, nullptr);
          if (!dense.ok() || dense->size() != dense_want[q].size() ||
              lexical.size() != lexical_want[q].size()) {
            ++mismatches[t];
            continue;
          }
          for (size_t i = 0; i < lexical.size(); ++i) {
            mismatches[t] += lexical[i].label != lexical_want[q][i].label;
          }
          for (size_t i = 0; i < dense->size(); ++i) {
            mismatches[t] += (*dense)[i].label != dense_want[q][i].label;
          }
          const DocumentView document = shard->document(static_cast<int32_t>(q));
          mismatches[t] += shard->FindDocument(document.id) != static_cast<int32_t>(q);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(mismatches == std::vector<int>(4, 0));
}

TEST_CASE("An empty shard builds and opens", "[shard]") {
  TempDir dir;
  const ShardInfo info = BuildShard({}, dir.Sub("shards"), "empty");
  CHECK(info.documents == 0);
  CHECK(info.chunks == 0);
  const std::unique_ptr<Shard> shard = OpenShard(dir.Sub("shards/empty"));
  CHECK(shard->document_count() == 0);
  CHECK(shard->chunk_count() == 0);
  absl::StatusOr<std::vector<ScoredLabel>> hits =
      shard->dense().Search(std::vector<float>(kDimension, 0.1f), 5, nullptr);
  REQUIRE(hits.ok());
  CHECK(hits->empty());
}

// --- Damage ----------------------------------------------------------------------------------

TEST_CASE("A damaged shard is refused with DATA_LOSS naming the file", "[shard]") {
  TempDir dir;
  const std::vector<StoredDocument> documents = MakeDocuments(60, 9);
  BuildShard(documents, dir.Sub("shards"), "s7");
  const std::string source = dir.Sub("shards/s7");
  REQUIRE(OpenStatus(source).ok());
  int copies = 0;

  for (const char* file : kShardFiles) {
    const std::string size_text =
        std::to_string(std::filesystem::file_size(absl::StrCat(source, "/", file)));
    INFO(file << " (" << size_text << " bytes)");
    const std::string original = ReadBytes(absl::StrCat(source, "/", file));

    // One flipped byte at several places (start, middle, end).
    for (size_t position : {size_t{0}, original.size() / 2, original.size() - 1}) {
      INFO("flipped byte " << position);
      const std::string copy = CopyShard(source, dir, "s7", absl::StrCat("c", copies++));
      std::string damaged = original;
      damaged[position] = static_cast<char>(damaged[position] ^ 0x5a);
      WriteBytes(absl::StrCat(copy, "/", file), damaged);
      const absl::Status status = OpenStatus(copy);
      CHECK(status.code() == absl::StatusCode::kDataLoss);
      CHECK_THAT(std::string(status.message()), Catch::Contains(file));
    }
    // Truncated: by one byte, to half, to nothing.
    for (size_t length : {original.size() - 1, original.size() / 2, size_t{0}}) {
      INFO("truncated to " << length);
      const std::string copy = CopyShard(source, dir, "s7", absl::StrCat("c", copies++));
      WriteBytes(absl::StrCat(copy, "/", file), original.substr(0, length));
      const absl::Status status = OpenStatus(copy);
      CHECK(status.code() == absl::StatusCode::kDataLoss);
      CHECK_THAT(std::string(status.message()), Catch::Contains(file));
    }
    // Deleted.
    {
      const std::string copy = CopyShard(source, dir, "s7", absl::StrCat("c", copies++));
      std::filesystem::remove(absl::StrCat(copy, "/", file));
      const absl::Status status = OpenStatus(copy);
      CHECK(status.code() == absl::StatusCode::kDataLoss);
      CHECK_THAT(std::string(status.message()), Catch::Contains(file));
    }
  }
  // The original was never touched.
  CHECK(OpenStatus(source).ok());
}

TEST_CASE("A bad SHARD header is DATA_LOSS", "[shard]") {
  TempDir dir;
  BuildShard(MakeDocuments(10, 10), dir.Sub("shards"), "h1");
  const std::string source = dir.Sub("shards/h1");
  const std::string original = ReadBytes(source + "/SHARD");
  int copies = 0;
  auto open_with_header = [&](const std::string& header) {
    const std::string copy = CopyShard(source, dir, "h1", absl::StrCat("c", copies++));
    WriteBytes(copy + "/SHARD", header);
    return OpenStatus(copy);
  };
  std::string bad_magic = original;
  bad_magic[0] = 'X';
  std::string bad_version = original;
  bad_version[4] = 9;
  for (const std::string& header :
       {bad_magic, bad_version, std::string("not a shard header at all"), std::string("QSHD"),
        original + "extra"}) {
    const absl::Status status = open_with_header(header);
    CHECK(status.code() == absl::StatusCode::kDataLoss);
    CHECK_THAT(std::string(status.message()), Catch::Contains("SHARD"));
  }
  CHECK_THAT(std::string(open_with_header(bad_version).message()),
             Catch::Contains("unknown format version 9"));
}

TEST_CASE("A shard opened with the wrong dimension, metric or name is refused", "[shard]") {
  TempDir dir;
  BuildShard(MakeDocuments(10, 11), dir.Sub("shards"), "m1");
  CHECK(Shard::Open(dir.Sub("shards/m1"), kDimension * 2, Metric::kInnerProduct).status().code() ==
        absl::StatusCode::kDataLoss);
  CHECK(Shard::Open(dir.Sub("shards/m1"), kDimension, Metric::kL2).status().code() ==
        absl::StatusCode::kDataLoss);
  std::filesystem::rename(dir.Sub("shards/m1"), dir.Sub("shards/renamed"));
  const absl::Status renamed = OpenStatus(dir.Sub("shards/renamed"));
  CHECK(renamed.code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(renamed.message()), Catch::Contains("SHARD names shard 'm1'"));
}

TEST_CASE("Opening a missing shard is NOT_FOUND", "[shard]") {
  TempDir dir;
  CHECK(OpenStatus(dir.Sub("shards/nope")).code() == absl::StatusCode::kNotFound);
  CHECK(OpenStatus(dir.Sub("nope/nope")).code() == absl::StatusCode::kNotFound);
  WriteBytes(dir.Sub("a-file"), "x");
  CHECK(OpenStatus(dir.Sub("a-file")).code() == absl::StatusCode::kNotFound);
}

// --- Crash safety and build errors -----------------------------------------------------------

TEST_CASE("A crashed build never shows up as a shard", "[shard]") {
  TempDir dir;
  const std::string shards = dir.Sub("shards");
  const std::vector<StoredDocument> documents = MakeDocuments(20, 12);
  BuildShard(documents, shards, "done");
  // What a build killed before its rename leaves: a temporary directory without SHARD.
  const std::string crashed = absl::StrCat(shards, "/.tmp-next-999999");
  std::filesystem::create_directories(crashed);
  std::filesystem::copy_file(absl::StrCat(shards, "/done/dense.faiss"),
                             absl::StrCat(crashed, "/dense.faiss"));
  WriteBytes(absl::StrCat(crashed, "/chunks.bin"), "partial");

  absl::StatusOr<std::vector<std::string>> ids = ListShardIds(shards);
  REQUIRE(ids.ok());
  CHECK(*ids == std::vector<std::string>{"done"});
  CHECK(OpenStatus(absl::StrCat(shards, "/next")).code() == absl::StatusCode::kNotFound);
  const absl::Status opened_temporary = OpenStatus(crashed);
  CHECK(opened_temporary.code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(opened_temporary.message()), Catch::Contains("SHARD is missing"));

  // The next build of that id succeeds; cleaning removes only temporaries.
  BuildShard(documents, shards, "next");
  REQUIRE(ShardBuilder::RemoveTemporaryDirectories(shards).ok());
  CHECK_FALSE(std::filesystem::exists(crashed));
  ids = ListShardIds(shards);
  REQUIRE(ids.ok());
  CHECK(*ids == std::vector<std::string>{"done", "next"});
  CHECK(OpenStatus(absl::StrCat(shards, "/next")).ok());
  CHECK(ListShardIds(dir.Sub("missing")).ok());
  CHECK(ListShardIds(dir.Sub("missing"))->empty());
}

TEST_CASE("Build refuses bad input and an existing shard, leaving nothing behind", "[shard]") {
  TempDir dir;
  const std::string shards = dir.Sub("shards");
  const std::vector<StoredDocument> documents = MakeDocuments(5, 13);
  auto build = [&](const std::vector<StoredDocument>& docs, const std::string& id,
                   const ShardBuildOptions& options = Options()) {
    return ShardBuilder::Build(options, docs, TestAnalyzer(), shards, id).status().code();
  };
  for (const char* id : {"", ".hidden", "a/b", "..", "white space", "é"}) {
    INFO(id);
    CHECK(build(documents, id) == absl::StatusCode::kInvalidArgument);
  }
  std::vector<StoredDocument> repeated = documents;
  repeated[3].id = repeated[1].id;
  CHECK(build(repeated, "x") == absl::StatusCode::kInvalidArgument);
  std::vector<StoredDocument> unnamed = documents;
  unnamed[0].id.clear();
  CHECK(build(unnamed, "x") == absl::StatusCode::kInvalidArgument);
  std::vector<StoredDocument> short_vector = documents;
  short_vector[2].chunks[0].vector.pop_back();
  CHECK(build(short_vector, "x") == absl::StatusCode::kInvalidArgument);
  std::vector<StoredDocument> bad_range = documents;
  bad_range[4].chunks[0].end = static_cast<uint32_t>(bad_range[4].text.size() + 1);
  CHECK(build(bad_range, "x") == absl::StatusCode::kInvalidArgument);
  CHECK(build(documents, "x", Options("NotAnIndex")) == absl::StatusCode::kInvalidArgument);
  CHECK(build(documents, "x", Options("Flat", 0)) == absl::StatusCode::kInvalidArgument);

  BuildShard(documents, shards, "x");
  const std::string before = ReadBytes(shards + "/x/SHARD");
  CHECK(build(MakeDocuments(3, 14), "x") == absl::StatusCode::kAlreadyExists);
  CHECK(ReadBytes(shards + "/x/SHARD") == before);
  std::vector<std::string> entries;
  for (const auto& entry : std::filesystem::directory_iterator(shards)) {
    entries.push_back(entry.path().filename().string());
  }
  CHECK(entries == std::vector<std::string>{"x"});
}

// --- Bm25Index serialization -----------------------------------------------------------------

using Terms = std::vector<std::string>;

Bm25Index SmallIndex() {
  Bm25Index index;
  index.Add(0, Terms{"a", "b", "c"});
  index.Add(1, Terms{"a", "a", "d"});
  index.Add(2, Terms{"b", "d", "e", "f"});
  index.Add(3, Terms{"c", "c", "c"});
  index.Add(5, Terms{"f", "a"});  // label 4 never added
  return index;
}

// A chunk's terms as counts, from ChunkTerms or from the list given to Add.
std::map<std::string, uint32_t> Counts(
    const std::vector<std::pair<absl::string_view, uint32_t>>& terms) {
  std::map<std::string, uint32_t> counts;
  for (const auto& [term, frequency] : terms) counts[std::string(term)] += frequency;
  return counts;
}
std::map<std::string, uint32_t> Counts(const Terms& terms) {
  std::map<std::string, uint32_t> counts;
  for (const std::string& term : terms) ++counts[term];
  return counts;
}

TEST_CASE("A BM25 index gives back each chunk's terms, also after deserializing", "[shard][bm25]") {
  const std::vector<Terms> added = {
      {"a", "b", "c"}, {"a", "a", "d"}, {"b", "d", "e", "f"}, {"c", "c", "c"}, {}, {"f", "a"}};
  const Bm25Index original = SmallIndex();
  absl::StatusOr<Bm25Index> copy = Bm25Index::Deserialize(original.Serialize());
  REQUIRE(copy.ok());
  for (int64_t label = 0; label < 6; ++label) {
    INFO("label " << label);
    CHECK(Counts(original.ChunkTerms(label)) == Counts(added[static_cast<size_t>(label)]));
    CHECK(Counts(copy->ChunkTerms(label)) == Counts(added[static_cast<size_t>(label)]));
  }
  CHECK(original.ChunkTerms(6).empty());
  CHECK(original.ChunkTerms(-1).empty());
  // A chunk added after deserializing, past a gap, is found too.
  copy->Add(8, Terms{"g", "a", "g"});
  CHECK(Counts(copy->ChunkTerms(8)) == Counts(Terms{"g", "a", "g"}));
  CHECK(copy->ChunkTerms(7).empty());
  CHECK(Counts(copy->ChunkTerms(5)) == Counts(added[5]));
}

TEST_CASE("A deserialized BM25 index scores exactly like the original", "[shard][bm25]") {
  Bm25Index original = SmallIndex();
  original.Remove(1, Terms{"a", "a", "d"});
  absl::StatusOr<Bm25Index> copy = Bm25Index::Deserialize(original.Serialize());
  REQUIRE(copy.ok());
  CHECK(copy->live_chunks() == original.live_chunks());
  CHECK(copy->live_total_length() == original.live_total_length());
  for (const char* term : {"a", "b", "c", "d", "e", "f", "z"}) {
    INFO(term);
    CHECK(copy->document_frequency(term) == original.document_frequency(term));
  }
  LabelSet allowed;
  allowed.Insert(0);
  allowed.Insert(2);
  for (const Terms& query :
       {Terms{"a"}, Terms{"a", "d"}, Terms{"c", "f", "b"}, Terms{"z"}, Terms{"d", "d", "e"}}) {
    RequireSameHits(copy->Search(query, 10, Bm25Params(), nullptr),
                    original.Search(query, 10, Bm25Params(), nullptr));
    RequireSameHits(copy->Search(query, 10, Bm25Params{1.2f, 0.75f}, &allowed),
                    original.Search(query, 10, Bm25Params{1.2f, 0.75f}, &allowed));
  }
  // Serializing is deterministic, and a copy serializes to the same bytes.
  CHECK(copy->Serialize() == original.Serialize());

  // A deserialized index keeps working: new chunks go after the old labels.
  copy->Add(6, Terms{"g"});
  CHECK(copy->Search(Terms{"g"}, 5, Bm25Params(), nullptr).at(0).label == 6);

  absl::StatusOr<Bm25Index> empty = Bm25Index::Deserialize(Bm25Index().Serialize());
  REQUIRE(empty.ok());
  CHECK(empty->live_chunks() == 0);
}

TEST_CASE("Malformed BM25 bytes are DATA_LOSS, never a crash", "[shard][bm25]") {
  const std::string bytes = SmallIndex().Serialize();
  REQUIRE(Bm25Index::Deserialize(bytes).ok());
  for (size_t length = 0; length < bytes.size(); ++length) {
    INFO("truncated to " << length << " of " << bytes.size());
    CHECK(Bm25Index::Deserialize(absl::string_view(bytes).substr(0, length)).status().code() ==
          absl::StatusCode::kDataLoss);
  }
  CHECK(Bm25Index::Deserialize(bytes + std::string(1, '\0')).status().code() ==
        absl::StatusCode::kDataLoss);
  // Every single-byte change either still decodes to a consistent index or is DATA_LOSS.
  for (size_t position = 0; position < bytes.size(); ++position) {
    for (const int flip : {0x01, 0x80, 0xff}) {
      std::string damaged = bytes;
      damaged[position] = static_cast<char>(damaged[position] ^ flip);
      absl::StatusOr<Bm25Index> decoded = Bm25Index::Deserialize(damaged);
      if (!decoded.ok()) {
        CHECK(decoded.status().code() == absl::StatusCode::kDataLoss);
      } else {
        decoded->Search(Terms{"a", "b", "c", "d", "e", "f"}, 10, Bm25Params(), nullptr);
      }
    }
  }
  // Huge counts must not make the decoder allocate: a label count of 2^62.
  std::string huge = bytes.substr(0, 8);
  huge += std::string("\x80\x80\x80\x80\x80\x80\x80\x80\x40", 9);
  CHECK(Bm25Index::Deserialize(huge).status().code() == absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace quarry
