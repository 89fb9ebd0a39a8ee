#include "server/generation/citations.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "server/generation/source.h"

namespace quarry::generation {
namespace {

std::vector<Source> ThreeSources() {
  std::vector<Source> sources;
  for (int n = 1; n <= 3; ++n) {
    Source source;
    source.number = n;
    source.chunk_id = "c" + std::to_string(n);
    sources.push_back(source);
  }
  return sources;
}

TEST_CASE("Single markers map to sources with their byte offsets", "[citations]") {
  const std::vector<Source> sources = ThreeSources();
  //                          0         1         2
  //                          0123456789012345678901234567
  const std::string answer = "Rain is wet [2]. Snow [3].";
  CHECK(ExtractCitations(answer, sources) ==
        std::vector<Citation>{{.source_number = 2, .chunk_id = "c2", .start = 12, .end = 15},
                              {.source_number = 3, .chunk_id = "c3", .start = 22, .end = 25}});
}

TEST_CASE("Lists, ranges, adjacent markers and Source prefixes", "[citations]") {
  const std::vector<Source> sources = ThreeSources();
  CHECK(ExtractCitations("x [1, 3] y", sources) ==
        std::vector<Citation>{{.source_number = 1, .chunk_id = "c1", .start = 2, .end = 8},
                              {.source_number = 3, .chunk_id = "c3", .start = 2, .end = 8}});
  CHECK(ExtractCitations("x [1][2]", sources) ==
        std::vector<Citation>{{.source_number = 1, .chunk_id = "c1", .start = 2, .end = 5},
                              {.source_number = 2, .chunk_id = "c2", .start = 5, .end = 8}});
  CHECK(ExtractCitations("[2-3]", sources).size() == 2);
  CHECK(ExtractCitations("[1\u20132]", sources).size() == 2);  // en dash
  CHECK(ExtractCitations("[Source 2]", sources) ==
        std::vector<Citation>{{.source_number = 2, .chunk_id = "c2", .start = 0, .end = 10}});
  CHECK(ExtractCitations("[sources 1; 2]", sources).size() == 2);
  // The same number twice in one marker counts once.
  CHECK(ExtractCitations("[2, 2]", sources).size() == 1);
}

TEST_CASE("Out-of-range numbers and non-markers are ignored", "[citations]") {
  const std::vector<Source> sources = ThreeSources();
  CHECK(ExtractCitations("see [4] and [0]", sources).empty());
  CHECK(ExtractCitations("[3, 9]", sources) ==
        std::vector<Citation>{{.source_number = 3, .chunk_id = "c3", .start = 0, .end = 6}});
  CHECK(ExtractCitations("[a] [1 [] [1,] [ 1 ] [12345] [1-999]", sources) ==
        std::vector<Citation>{{.source_number = 1, .chunk_id = "c1", .start = 15, .end = 20}});
  CHECK(ExtractCitations("unterminated [1", sources).empty());
  CHECK(ExtractCitations("", sources).empty());
  CHECK(ExtractCitations("[1]", {}).empty());
}

}  // namespace
}  // namespace quarry::generation
