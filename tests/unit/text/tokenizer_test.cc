#include "index/text/tokenizer.h"

#include <catch2/catch.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quarry::text {
namespace {

// Each token as its text, with "#" before punctuation so the kind is checked too.
std::vector<std::string> Render(std::string_view text) {
  std::vector<std::string> out;
  for (const Token& token : Tokenize(text)) {
    std::string piece(text.substr(token.start, token.end - token.start));
    out.push_back(token.is_word ? piece : "#" + piece);
  }
  return out;
}

using Strings = std::vector<std::string>;

TEST_CASE("Tokenize gives words and punctuation with byte offsets", "[tokenizer]") {
  const std::vector<Token> tokens = Tokenize("Hello, world!");
  REQUIRE(tokens.size() == 4);
  CHECK((tokens[0].start == 0 && tokens[0].end == 5 && tokens[0].is_word));
  CHECK((tokens[1].start == 5 && tokens[1].end == 6 && !tokens[1].is_word));
  CHECK((tokens[2].start == 7 && tokens[2].end == 12 && tokens[2].is_word));
  CHECK((tokens[3].start == 12 && tokens[3].end == 13 && !tokens[3].is_word));
}

TEST_CASE("Tokenize produces nothing for empty or blank text", "[tokenizer]") {
  CHECK(Tokenize("").empty());
  CHECK(Tokenize(" \t\r\n\f\v ").empty());
  CHECK(Tokenize("\u00A0\u2003\u3000\u200B\uFEFF").empty());  // Unicode spaces, ZWSP, BOM
}

TEST_CASE("Tokenize splits on ASCII punctuation, one mark per token", "[tokenizer]") {
  CHECK(Render("abc123 4.5") == Strings{"abc123", "4", "#.", "5"});
  CHECK(Render("x86_64 (a+b)==c") ==
        Strings{"x86", "#_", "64", "#(", "a", "#+", "b", "#)", "#=", "#=", "c"});
  CHECK(Render("state-of-the-art") == Strings{"state", "#-", "of", "#-", "the", "#-", "art"});
  CHECK(Render("...") == Strings{"#.", "#.", "#."});
}

TEST_CASE("Tokenize keeps apostrophes inside words only", "[tokenizer]") {
  CHECK(Render("don't stop") == Strings{"don't", "stop"});
  CHECK(Render("rock'n'roll") == Strings{"rock'n'roll"});
  CHECK(Render("don\u2019t") == Strings{"don\u2019t"});
  CHECK(Render("'quoted'") == Strings{"#'", "quoted", "#'"});
  CHECK(Render("dogs' bowls") == Strings{"dogs", "#'", "bowls"});
  CHECK(Render("it''s") == Strings{"it", "#'", "#'", "s"});
}

TEST_CASE("Tokenize treats letters of any script as word characters", "[tokenizer]") {
  CHECK(Render("na\u00EFve caf\u00E9") == Strings{"na\u00EFve", "caf\u00E9"});
  CHECK(Render("\u041F\u0440\u0438\u0432\u0435\u0442, \u043C\u0438\u0440") ==
        Strings{"\u041F\u0440\u0438\u0432\u0435\u0442", "#,", "\u043C\u0438\u0440"});
  CHECK(Render("\u03B1\u03B2\u03B3") == Strings{"\u03B1\u03B2\u03B3"});
  // A combining accent stays inside its word.
  CHECK(Render("e\u0301te x") == Strings{"e\u0301te", "x"});
}

TEST_CASE("Tokenize splits on Unicode punctuation, spaces and symbols", "[tokenizer]") {
  CHECK(Render("\u201Cquoted\u201D \u2014 text\u2026") ==
        Strings{"#\u201C", "quoted", "#\u201D", "#\u2014", "text", "#\u2026"});
  CHECK(Render("a\u00A0b") == Strings{"a", "b"});  // no-break space
  CHECK(Render("a\u2009b") == Strings{"a", "b"});  // thin space
  CHECK(Render("\u00BFQu\u00E9?") == Strings{"#\u00BF", "Qu\u00E9", "#?"});
  CHECK(Render("5\u20AC") == Strings{"5", "#\u20AC"});
  CHECK(Render("hi\U0001F600there") == Strings{"hi", "#\U0001F600", "there"});
  CHECK(Render("a\u00B7b") == Strings{"a", "#\u00B7", "b"});  // middle dot
}

TEST_CASE("Tokenize makes each Han and Hiragana character a word", "[tokenizer]") {
  // Katakana runs stay whole (loanwords); Han characters stand alone.
  CHECK(Render("\u6771\u4EAC\u30BF\u30EF\u30FC\u3002") ==
        Strings{"\u6771", "\u4EAC", "\u30BF\u30EF\u30FC", "#\u3002"});
  CHECK(Render("abc\u4E2D") == Strings{"abc", "\u4E2D"});
}

TEST_CASE("Tokenize ignores joiners outside words", "[tokenizer]") {
  // Emoji ZWJ sequence: the emoji are symbols, the joiner produces no token.
  CHECK(Render("\U0001F468\u200D\U0001F469") == Strings{"#\U0001F468", "#\U0001F469"});
  CHECK(Render("a\u200Db") == Strings{"a\u200Db"});
}

TEST_CASE("Tokenize cuts very long runs into bounded adjacent pieces", "[tokenizer]") {
  const std::string blob(300, 'a');
  const std::vector<Token> tokens = Tokenize(blob);
  REQUIRE(tokens.size() >= 3);
  CHECK(tokens.front().start == 0);
  CHECK(tokens.back().end == 300);
  for (size_t i = 0; i < tokens.size(); ++i) {
    CHECK(tokens[i].is_word);
    CHECK(tokens[i].end - tokens[i].start <= 128);
    if (i > 0) CHECK(tokens[i].start == tokens[i - 1].end);
  }
  // Multi-byte characters are never split.
  std::string cyrillic;
  for (int i = 0; i < 200; ++i) cyrillic += "\u0436";
  for (const Token& token : Tokenize(cyrillic)) {
    CHECK((token.end - token.start) % 2 == 0);
  }
}

TEST_CASE("Tokens are ordered, disjoint and cover every visible character", "[tokenizer]") {
  const std::string text =
      "  First line: \"quoted\", (parens) & 42%.\n\nSecond\tparagraph \u2014 caf\u00E9's "
      "\u4E2D\u6587 \U0001F600 end.";
  const std::vector<Token> tokens = Tokenize(text);
  std::vector<bool> covered(text.size(), false);
  for (size_t i = 0; i < tokens.size(); ++i) {
    REQUIRE(tokens[i].start < tokens[i].end);
    REQUIRE(tokens[i].end <= text.size());
    if (i > 0) REQUIRE(tokens[i - 1].end <= tokens[i].start);
    // Offsets fall on code point boundaries.
    CHECK((static_cast<unsigned char>(text[tokens[i].start]) & 0xC0) != 0x80);
    if (tokens[i].end < text.size()) {
      CHECK((static_cast<unsigned char>(text[tokens[i].end]) & 0xC0) != 0x80);
    }
    for (size_t b = tokens[i].start; b < tokens[i].end; ++b) covered[b] = true;
  }
  for (size_t b = 0; b < text.size(); ++b) {
    const char c = text[b];
    const bool space = c == ' ' || c == '\n' || c == '\t';
    CHECK(covered[b] != space);
  }
}

}  // namespace
}  // namespace quarry::text
