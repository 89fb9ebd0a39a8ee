#include "index/embed/hashing_embedder.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace quarry {
namespace {

std::unique_ptr<HashingEmbedder> MakeEmbedder(int dimension = 768) {
  auto embedder = HashingEmbedder::Create({dimension});
  REQUIRE(embedder.ok());
  return *std::move(embedder);
}

std::vector<float> EmbedOne(const HashingEmbedder& embedder, std::string_view text) {
  std::vector<float> v(static_cast<size_t>(embedder.dimension()));
  embedder.EmbedOne(text, v.data());
  return v;
}

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

double Similarity(const HashingEmbedder& embedder, std::string_view a, std::string_view b) {
  return Dot(EmbedOne(embedder, a), EmbedOne(embedder, b));
}

TEST_CASE("Create validates the dimension", "[embedder]") {
  CHECK(HashingEmbedder::Create({1}).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(HashingEmbedder::Create({0}).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(HashingEmbedder::Create({8193}).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(HashingEmbedder::Create({2}).ok());
  CHECK(HashingEmbedder::Create({8192}).ok());
  auto embedder = HashingEmbedder::Create({});
  REQUIRE(embedder.ok());
  CHECK((*embedder)->dimension() == 768);
}

TEST_CASE("Embed returns one unit vector per text", "[embedder]") {
  const auto embedder = MakeEmbedder(384);
  const std::vector<std::string_view> texts = {"first text about rivers",
                                               "second one, on mountains", "x"};
  const auto matrix = embedder->Embed(texts);
  REQUIRE(matrix.ok());
  REQUIRE(matrix->size() == texts.size() * 384);
  for (size_t row = 0; row < texts.size(); ++row) {
    const std::vector<float> v(matrix->begin() + static_cast<long>(row * 384),
                               matrix->begin() + static_cast<long>((row + 1) * 384));
    CHECK(Dot(v, v) == Approx(1.0).epsilon(1e-5));
    CHECK(v == EmbedOne(*embedder, texts[row]));  // EmbedOne agrees with Embed
  }
  const auto empty = embedder->Embed({});
  REQUIRE(empty.ok());
  CHECK(empty->empty());
}

TEST_CASE("Texts without features embed to the zero vector", "[embedder]") {
  const auto embedder = MakeEmbedder();
  for (std::string_view text : {"", "   \n", "!!! ... ---", "the of and to is"}) {
    const std::vector<float> v = EmbedOne(*embedder, text);
    CHECK(Dot(v, v) == 0.0);
  }
}

TEST_CASE("Embed rejects invalid UTF-8", "[embedder]") {
  const auto embedder = MakeEmbedder();
  const std::string bad = "ok \xC3";
  const std::vector<std::string_view> texts = {"fine", bad};
  const auto result = embedder->Embed(texts);
  CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("Embeddings are deterministic and stable across builds", "[embedder]") {
  const auto a = MakeEmbedder();
  const auto b = MakeEmbedder();
  const std::string text = "Deterministic hashing: the same text, the same vector.";
  CHECK(EmbedOne(*a, text) == EmbedOne(*b, text));
  // Vectors are stored in shards, so the hash must not change between builds or processes
  // (absl::Hash, for one, is seeded per process). These values pin it down; if a deliberate
  // change breaks them, existing indexes must be rebuilt.
  const std::vector<float> v = EmbedOne(*a, "hello world");
  int nonzero = 0;
  for (float x : v) nonzero += x != 0.0f;
  CHECK(nonzero == 27);
  CHECK(v[673] == Approx(-0.449013).margin(1e-5));  // unigrams "hello" and "world"
  CHECK(v[15] == Approx(-0.449013).margin(1e-5));
  CHECK(v[124] == Approx(-0.155543).margin(1e-5));
  CHECK(v[31] == Approx(-0.155543).margin(1e-5));
}

TEST_CASE("Case and inflection do not change the match", "[embedder]") {
  const auto embedder = MakeEmbedder();
  CHECK(Similarity(*embedder, "HELLO World", "hello world") == Approx(1.0).epsilon(1e-5));
  const double inflected = Similarity(*embedder, "The cat is running", "cats run");
  const double unrelated = Similarity(*embedder, "The cat is running", "stock market report");
  CHECK(inflected > 0.6);
  CHECK(unrelated < 0.2);
}

TEST_CASE("Shared words, typos and phrases score higher than unrelated text", "[embedder]") {
  const auto embedder = MakeEmbedder();
  // Typos the stemmer cannot fix still share character n-grams.
  CHECK(Similarity(*embedder, "embeding vectr", "embedding vectors") >
        Similarity(*embedder, "embeding vectr", "database index") + 0.2);
  CHECK(Similarity(*embedder, "photosynthesys", "photosynthesis") > 0.4);
  // Shared words beat no shared words.
  CHECK(Similarity(*embedder, "the quick brown fox", "a fast brown fox") >
        Similarity(*embedder, "the quick brown fox", "interest rates rise") + 0.3);
  // Bigrams: the same words in the phrase's order match better than scrambled.
  CHECK(Similarity(*embedder, "new york city", "a trip to new york city") >
        Similarity(*embedder, "new york city", "a city trip to york, new"));
}

TEST_CASE("Embedding from two threads gives the same vectors", "[embedder]") {
  const auto embedder = MakeEmbedder();
  std::vector<std::string> texts;
  for (int i = 0; i < 64; ++i) {
    texts.push_back("Document " + std::to_string(i) + " talks about running studies of " +
                    std::to_string(i * 7) + " connected organizations and their happiness");
  }
  const std::vector<std::string_view> views(texts.begin(), texts.end());
  const auto expected = embedder->Embed(views);
  REQUIRE(expected.ok());
  std::vector<std::vector<float>> results(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        auto got = embedder->Embed(views);
        if (!got.ok() || *got != *expected) return;
      }
      results[t] = *embedder->Embed(views);
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(results[0] == *expected);
  CHECK(results[1] == *expected);
}

TEST_CASE("Queries find their document by inner product", "[embedder]") {
  const auto embedder = MakeEmbedder();
  const std::vector<std::string_view> documents = {
      "Photosynthesis lets green plants turn sunlight, water and carbon dioxide into sugar and "
      "oxygen inside their chloroplasts.",
      "The mitochondria are the powerhouses of the cell, producing ATP through cellular "
      "respiration.",
      "Volcanoes erupt when molten rock called magma rises through cracks in the Earth's crust.",
      "Earthquakes happen when tectonic plates slip suddenly along a fault, releasing seismic "
      "waves.",
      "The central bank raised interest rates to slow inflation, making mortgages and loans more "
      "expensive.",
      "To bake sourdough bread, feed the starter, mix flour and water, let the dough rise "
      "overnight, then bake it in a hot oven.",
      "Pasta should be cooked in plenty of salted boiling water until al dente, then drained.",
      "The goalkeeper saved a penalty kick in the final minute, and the football club won the "
      "championship.",
      "Vaccines train the immune system to recognise a virus so the body can fight infection "
      "quickly.",
      "Antibiotics kill bacteria but do not work against viral infections such as the cold.",
      "A binary search tree keeps keys sorted so lookups and insertions take logarithmic time.",
      "Hash tables map keys to buckets with a hash function; collisions are resolved by "
      "chaining or probing.",
      "Solar panels convert sunlight directly into electricity using photovoltaic cells.",
      "Wind turbines generate electrical power as the wind spins their large blades.",
  };
  struct Query {
    std::string_view text;
    size_t expected;
  };
  const Query queries[] = {
      {"how do plants make sugar from sunlight", 0},
      {"photosynthesys in the chloroplast", 0},
      {"what produces ATP in cells", 1},
      {"why does a volcano erupt", 2},
      {"seismic waves from a slipping fault", 3},
      {"interest rate hike to fight inflation", 4},
      {"baking bread, the dough rising", 5},
      {"boiled pasta in salted water", 6},
      {"penalty saved by the goalkeeper", 7},
      {"vaccination and the immune response", 8},
      {"do antibiotics work on viruses", 9},
      {"binary search trees", 10},
      {"hash table collision chaining", 11},
      {"solar pannels turn sunlight into power", 12},
      {"electricity from wind turbine blades", 13},
  };
  const auto matrix = embedder->Embed(documents);
  REQUIRE(matrix.ok());
  const size_t dimension = 768;
  for (const Query& query : queries) {
    const std::vector<float> q = EmbedOne(*embedder, query.text);
    size_t best = 0;
    double best_score = -2;
    for (size_t d = 0; d < documents.size(); ++d) {
      const std::vector<float> row(matrix->begin() + static_cast<long>(d * dimension),
                                   matrix->begin() + static_cast<long>((d + 1) * dimension));
      const double score = Dot(q, row);
      if (score > best_score) {
        best_score = score;
        best = d;
      }
    }
    CAPTURE(query.text);
    CHECK(best == query.expected);
  }
}

TEST_CASE("Query term weights favour documents sharing the query's rare words", "[embedder]") {
  const auto embedder = MakeEmbedder();
  const std::string_view query = "cell zebrafish";
  // Equal weights: the unweighted vector.
  absl::StatusOr<std::vector<float>> plain = embedder->EmbedQuery(
      query, [](std::string_view) { return 2.0f; }, quarry::remote::CallControl());
  REQUIRE(plain.ok());
  const std::vector<float> unweighted = EmbedOne(*embedder, query);
  for (size_t i = 0; i < unweighted.size(); ++i) CHECK((*plain)[i] == Approx(unweighted[i]));

  const std::vector<float> common = EmbedOne(*embedder, "cell biology of the cell");
  const std::vector<float> rare = EmbedOne(*embedder, "zebrafish fins regrow");
  auto weigh = [](std::string_view term) { return term == "zebrafish" ? 5.0f : 0.5f; };
  absl::StatusOr<std::vector<float>> weighted =
      embedder->EmbedQuery(query, weigh, quarry::remote::CallControl());
  REQUIRE(weighted.ok());
  CHECK(Dot(*weighted, rare) > Dot(*weighted, common) + 0.2);
  CHECK(Dot(*weighted, rare) > Dot(unweighted, rare) + 0.1);
  CHECK(Dot(*weighted, *weighted) == Approx(1.0));

  CHECK(absl::IsInvalidArgument(
      embedder->EmbedQuery("\xff", weigh, quarry::remote::CallControl()).status()));
}

}  // namespace
}  // namespace quarry
