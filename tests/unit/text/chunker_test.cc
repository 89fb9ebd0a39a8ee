#include "index/text/chunker.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "index/text/tokenizer.h"

namespace quarry::text {
namespace {

// A chunk as token indices [first, last] into Tokenize(text).
struct TokenRange {
  size_t first;
  size_t last;
};

// Maps chunks to token ranges, failing the test if a chunk does not start at a token start or
// end at a token end.
std::vector<TokenRange> ToTokenRanges(const std::vector<Token>& tokens,
                                      const std::vector<ChunkSpan>& chunks) {
  std::vector<TokenRange> ranges;
  for (const ChunkSpan& chunk : chunks) {
    auto first = std::find_if(tokens.begin(), tokens.end(),
                              [&](const Token& t) { return t.start == chunk.start; });
    auto last = std::find_if(tokens.begin(), tokens.end(),
                             [&](const Token& t) { return t.end == chunk.end; });
    REQUIRE(first != tokens.end());
    REQUIRE(last != tokens.end());
    REQUIRE(first <= last);
    ranges.push_back(
        {static_cast<size_t>(first - tokens.begin()), static_cast<size_t>(last - tokens.begin())});
  }
  return ranges;
}

// Deterministic prose: sentences of 4..`max_sentence_words` words ending in ".", paragraphs of
// a few sentences separated by blank lines.
std::string MakeText(int sentences, int max_sentence_words, int sentences_per_paragraph) {
  static constexpr std::string_view kWords[] = {
      "river",  "stone",  "light",   "quarry", "index",  "amber", "signal", "harbor",
      "meadow", "copper", "lantern", "vector", "cinder", "orbit", "maple",  "thread"};
  std::string text;
  unsigned state = 12345;
  for (int s = 0; s < sentences; ++s) {
    state = state * 1103515245u + 12345u;
    const int words = 4 + static_cast<int>((state >> 16) % (max_sentence_words - 3));
    for (int w = 0; w < words; ++w) {
      state = state * 1103515245u + 12345u;
      if (w > 0) text += (state >> 20) % 7 == 0 ? ", " : " ";
      text += kWords[(state >> 16) % std::size(kWords)];
    }
    text += ".";
    const bool paragraph_end =
        sentences_per_paragraph > 0 && (s + 1) % sentences_per_paragraph == 0;
    text += paragraph_end ? "\n\n" : " ";
  }
  return text;
}

// Invariants every chunking must satisfy.
void CheckChunking(std::string_view text, const ChunkerOptions& options) {
  const std::vector<Token> tokens = Tokenize(text);
  const std::vector<ChunkSpan> chunks = ChunkText(text, options);
  REQUIRE(!chunks.empty());
  const std::vector<TokenRange> ranges = ToTokenRanges(tokens, chunks);
  const size_t target = static_cast<size_t>(options.target_tokens);
  const size_t overlap = static_cast<size_t>(options.overlap_tokens);
  CHECK(ranges.front().first == 0);
  CHECK(ranges.back().last == tokens.size() - 1);
  for (size_t i = 0; i < ranges.size(); ++i) {
    const size_t length = ranges[i].last - ranges[i].first + 1;
    CHECK(length <= target);
    if (i + 1 < ranges.size()) {
      CHECK(length >= target - target / 4);
      // Consecutive chunks share exactly `overlap` tokens: no gap, no more.
      CHECK(ranges[i + 1].first + overlap == ranges[i].last + 1);
    }
  }
}

TEST_CASE("ValidateChunkerOptions enforces the documented bounds", "[chunker]") {
  CHECK(ValidateChunkerOptions({}).ok());
  CHECK(ValidateChunkerOptions({16, 0}).ok());
  CHECK(ValidateChunkerOptions({16, 7}).ok());
  CHECK(ValidateChunkerOptions({4096, 2047}).ok());
  CHECK(ValidateChunkerOptions({15, 0}).code() == absl::StatusCode::kInvalidArgument);
  CHECK(ValidateChunkerOptions({4097, 0}).code() == absl::StatusCode::kInvalidArgument);
  CHECK(ValidateChunkerOptions({0, 0}).code() == absl::StatusCode::kInvalidArgument);
  CHECK(ValidateChunkerOptions({16, 8}).code() == absl::StatusCode::kInvalidArgument);
  CHECK(ValidateChunkerOptions({256, 128}).code() == absl::StatusCode::kInvalidArgument);
  CHECK(ValidateChunkerOptions({256, -1}).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("ChunkText returns nothing for text without tokens", "[chunker]") {
  CHECK(ChunkText("", {}).empty());
  CHECK(ChunkText("  \n\n\t \u00A0 ", {}).empty());
}

TEST_CASE("A short text is one chunk from its first to its last token", "[chunker]") {
  const std::string text = "\n  Just a short note, really.  \n";
  const std::vector<ChunkSpan> chunks = ChunkText(text, {});
  REQUIRE(chunks.size() == 1);
  CHECK(text.substr(chunks[0].start, chunks[0].end - chunks[0].start) ==
        "Just a short note, really.");
}

TEST_CASE("Chunks respect size bounds and exact overlap", "[chunker]") {
  const std::string prose = MakeText(400, 20, 5);
  for (const ChunkerOptions options :
       {ChunkerOptions{16, 0}, ChunkerOptions{16, 7}, ChunkerOptions{64, 16},
        ChunkerOptions{100, 49}, ChunkerOptions{256, 32}, ChunkerOptions{257, 0}}) {
    CAPTURE(options.target_tokens, options.overlap_tokens);
    CheckChunking(prose, options);
  }
  // Text with no sentence or paragraph structure at all, and text of punctuation only.
  std::string words;
  for (int i = 0; i < 1000; ++i) words += "w" + std::to_string(i) + " ";
  CheckChunking(words, {50, 10});
  CheckChunking(std::string(777, '-'), {32, 8});
}

TEST_CASE("Without overlap, chunks tile the tokens", "[chunker]") {
  const std::string text = MakeText(100, 15, 0);
  const std::vector<Token> tokens = Tokenize(text);
  const std::vector<TokenRange> ranges = ToTokenRanges(tokens, ChunkText(text, {32, 0}));
  for (size_t i = 1; i < ranges.size(); ++i) CHECK(ranges[i].first == ranges[i - 1].last + 1);
}

TEST_CASE("Chunks end at sentence ends when there are any", "[chunker]") {
  // Sentences of at most 12 words and 11 commas (24 tokens) always put a sentence end in the
  // last quarter (33 cut points) of a 128-token window.
  const std::string text = MakeText(300, 12, 0);
  const std::vector<ChunkSpan> chunks = ChunkText(text, {128, 16});
  REQUIRE(chunks.size() > 5);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    CHECK(text[chunks[i].end - 1] == '.');
  }
}

TEST_CASE("A paragraph break beats a later sentence end", "[chunker]") {
  // 50 tokens, a blank line, then short sentences: a 64-token window sees the paragraph break
  // after token 50 and sentence ends after it, and must cut at the paragraph.
  std::string first;
  for (int i = 0; i < 49; ++i) first += "alpha ";
  first += "end.";
  const std::string text =
      first + "\n\nOne two three. Four five six. Seven eight nine. " + MakeText(40, 10, 0);
  const std::vector<ChunkSpan> chunks = ChunkText(text, {64, 8});
  REQUIRE(chunks.size() >= 2);
  CHECK(chunks[0].start == 0);
  CHECK(chunks[0].end == first.size());
}

TEST_CASE("Sentence ends inside closing quotes and CJK full stops count", "[chunker]") {
  // 8 tokens a sentence, so each window's last quarter (9 cut points) holds a sentence end.
  std::string quoted;
  for (int i = 0; i < 40; ++i) quoted += "He said \"lit.\" Then go ";
  const std::vector<ChunkSpan> chunks = ChunkText(quoted, {32, 0});
  REQUIRE(chunks.size() > 3);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    CHECK(quoted.substr(chunks[i].end - 2, 2) == ".\"");
  }
  // Han and Hiragana characters are one token each (10 a sentence here); U+3002 ends a
  // sentence with no space after it.
  std::string cjk;
  for (int i = 0; i < 60; ++i) {
    cjk += "\u4ECA\u65E5\u306F\u826F\u3044\u5929\u6C17\u3067\u3059\u3002";
  }
  const std::vector<ChunkSpan> cjk_chunks = ChunkText(cjk, {48, 4});
  REQUIRE(cjk_chunks.size() > 3);
  for (size_t i = 0; i + 1 < cjk_chunks.size(); ++i) {
    CHECK(cjk.substr(cjk_chunks[i].end - 3, 3) == "\u3002");
  }
}

TEST_CASE("Chunking a multi-megabyte text covers it all", "[chunker]") {
  std::string big;
  const std::string paragraph = MakeText(50, 18, 0) + "\n\n";
  while (big.size() < (4u << 20)) big += paragraph;
  const std::vector<Token> tokens = Tokenize(big);
  const std::vector<ChunkSpan> chunks = ChunkText(big, {256, 32});
  REQUIRE(!chunks.empty());
  CHECK(chunks.front().start == tokens.front().start);
  CHECK(chunks.back().end == tokens.back().end);
  size_t gaps = 0;
  for (size_t i = 1; i < chunks.size(); ++i) {
    if (chunks[i].start >= chunks[i - 1].end) ++gaps;  // overlap 32 means they must overlap
  }
  CHECK(gaps == 0);
  CHECK(chunks.size() > tokens.size() / 256);
  CHECK(chunks.size() < tokens.size() / (192 - 32) + 2);
}

}  // namespace
}  // namespace quarry::text
