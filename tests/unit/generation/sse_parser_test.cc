#include "server/generation/sse_parser.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace quarry::generation {
namespace {

std::vector<std::string> ParseInPieces(const std::string& stream, size_t piece) {
  std::vector<std::string> events;
  SseParser parser([&](std::string_view data) {
    events.emplace_back(data);
    return true;
  });
  for (size_t i = 0; i < stream.size(); i += piece) {
    REQUIRE(parser.Feed(std::string_view(stream).substr(i, piece)));
  }
  REQUIRE(parser.Finish());
  return events;
}

TEST_CASE("Events are dispatched at blank lines whatever the piece size", "[sse]") {
  const std::string stream =
      ": keep-alive\n\ndata: {\"a\":1}\n\nevent: message\nid: 7\nretry: 100\ndata:{\"b\":2}\n\n"
      "data: first\ndata: second\n\ndata: [DONE]\n\n";
  const std::vector<std::string> expected = {"{\"a\":1}", "{\"b\":2}", "first\nsecond", "[DONE]"};
  for (size_t piece : {1, 2, 3, 7, 1000}) {
    CHECK(ParseInPieces(stream, piece) == expected);
  }
}

TEST_CASE("CRLF and CR line ends, split anywhere", "[sse]") {
  const std::string crlf = "data: one\r\n\r\n: comment\r\ndata: two\r\n\r\n";
  const std::string cr = "data: one\r\rdata: two\r\r";
  for (size_t piece : {1, 2, 5, 100}) {
    CHECK(ParseInPieces(crlf, piece) == std::vector<std::string>{"one", "two"});
    CHECK(ParseInPieces(cr, piece) == std::vector<std::string>{"one", "two"});
  }
}

TEST_CASE("An event without its closing blank line is dispatched at the end", "[sse]") {
  CHECK(ParseInPieces("data: last", 3) == std::vector<std::string>{"last"});
  CHECK(ParseInPieces("data: last\n", 100) == std::vector<std::string>{"last"});
  CHECK(ParseInPieces(": only a comment\n\n", 100).empty());
}

TEST_CASE("The callback can stop the parser", "[sse]") {
  int seen = 0;
  SseParser parser([&](std::string_view) { return ++seen < 2; });
  CHECK_FALSE(parser.Feed("data: 1\n\ndata: 2\n\ndata: 3\n\n"));
  CHECK(seen == 2);
}

}  // namespace
}  // namespace quarry::generation
