#include "server/generation/sentence_splitter.h"

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace quarry::generation {
namespace {

std::vector<std::string> Sentences(std::string_view text) {
  std::vector<std::string> out;
  for (const SentenceSpan& span : SplitSentences(text)) {
    out.emplace_back(text.substr(span.start, span.end - span.start));
  }
  return out;
}

TEST_CASE("Sentences end at final punctuation followed by a capital", "[sentences]") {
  CHECK(Sentences("Water boils at 100 degrees. Ice melts at 0 degrees! Does steam burn? Yes.") ==
        std::vector<std::string>{"Water boils at 100 degrees.", "Ice melts at 0 degrees!",
                                 "Does steam burn?", "Yes."});
}

TEST_CASE("Spans are byte offsets trimmed of whitespace", "[sentences]") {
  const std::vector<SentenceSpan> spans = SplitSentences("  One two.   Three four.  ");
  CHECK(spans == std::vector<SentenceSpan>{{2, 10}, {13, 24}});
}

TEST_CASE("Abbreviations, initials, decimals and lowercase continuations do not split",
          "[sentences]") {
  CHECK(Sentences("Dr. Smith measured 3.5 mg, e.g. In the U.S. Army. J. Doe agreed.") ==
        std::vector<std::string>{"Dr. Smith measured 3.5 mg, e.g. In the U.S. Army.",
                                 "J. Doe agreed."});
  CHECK(Sentences("It costs approx. five dollars. See example.com for more.") ==
        std::vector<std::string>{"It costs approx. five dollars.", "See example.com for more."});
}

TEST_CASE("Closing quotes and brackets stay with their sentence", "[sentences]") {
  CHECK(Sentences("He said \"stop.\" Then he left. (It was late.) Done!?") ==
        std::vector<std::string>{"He said \"stop.\"", "Then he left.", "(It was late.)", "Done!?"});
}

TEST_CASE("Paragraphs, list items and headings split, wrapped lines do not", "[sentences]") {
  CHECK(Sentences("# Aspirin\nAspirin is a drug that\nreduces pain\n\nSide effects\n- stomach "
                  "upset\n- bleeding") ==
        std::vector<std::string>{"# Aspirin", "Aspirin is a drug that\nreduces pain",
                                 "Side effects", "- stomach upset", "- bleeding"});
}

TEST_CASE("CJK full stops split without spaces", "[sentences]") {
  CHECK(Sentences("今天下雨。明天晴天！") == std::vector<std::string>{"今天下雨。", "明天晴天！"});
}

TEST_CASE("Spans without words are dropped", "[sentences]") {
  CHECK(Sentences("... --- !!!").empty());
  CHECK(Sentences("").empty());
  CHECK(Sentences("No final stop") == std::vector<std::string>{"No final stop"});
}

}  // namespace
}  // namespace quarry::generation
