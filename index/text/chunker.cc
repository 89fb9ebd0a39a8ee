#include "index/text/chunker.h"

#include <cstddef>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "index/text/tokenizer.h"

namespace quarry::text {
namespace {

constexpr int kMinTargetTokens = 16;
constexpr int kMaxTargetTokens = 4096;

// How good a place to cut is; higher is better.
enum CutQuality : int {
  kInsideWord = 0,  // adjacent tokens ("end" and "."; "3", ".", "14")
  kSpace = 1,
  kSentenceEnd = 2,
  kParagraph = 3,
};

bool TokenIs(std::string_view text, const Token& token, std::string_view what) {
  return text.substr(token.start, token.end - token.start) == what;
}

bool IsSentenceTerminator(std::string_view text, const Token& token) {
  return TokenIs(text, token, ".") || TokenIs(text, token, "!") || TokenIs(text, token, "?") ||
         TokenIs(text, token, "\u2026");
}

// CJK full stops end a sentence with no space after them.
bool IsIdeographicTerminator(std::string_view text, const Token& token) {
  return TokenIs(text, token, "\u3002") || TokenIs(text, token, "\uFF01") ||
         TokenIs(text, token, "\uFF1F");
}

bool IsClosingMark(std::string_view text, const Token& token) {
  return TokenIs(text, token, "\"") || TokenIs(text, token, "'") || TokenIs(text, token, ")") ||
         TokenIs(text, token, "]") || TokenIs(text, token, "\u2019") ||
         TokenIs(text, token, "\u201D") || TokenIs(text, token, "\u00BB");
}

// Quality of cutting between tokens[last] and tokens[last + 1].
CutQuality CutAfter(std::string_view text, const std::vector<Token>& tokens, size_t last) {
  const Token& token = tokens[last];
  const size_t gap_begin = token.end;
  const size_t gap_end = tokens[last + 1].start;
  if (gap_begin == gap_end) {
    return IsIdeographicTerminator(text, token) ? kSentenceEnd : kInsideWord;
  }
  // The gap holds only whitespace and invisible characters: two newlines make a blank line.
  int newlines = 0;
  for (size_t i = gap_begin; i < gap_end; ++i) {
    if (text[i] == '\n' && ++newlines == 2) return kParagraph;
  }
  if (token.is_word) return kSpace;
  // `end.` and `end."` or `(see below.)` all end a sentence.
  if (IsSentenceTerminator(text, token) || IsIdeographicTerminator(text, token)) {
    return kSentenceEnd;
  }
  if (last > 0 && IsClosingMark(text, token) && tokens[last - 1].end == token.start &&
      IsSentenceTerminator(text, tokens[last - 1])) {
    return kSentenceEnd;
  }
  return kSpace;
}

}  // namespace

absl::Status ValidateChunkerOptions(const ChunkerOptions& options) {
  if (options.target_tokens < kMinTargetTokens || options.target_tokens > kMaxTargetTokens) {
    return absl::InvalidArgumentError(absl::StrCat("chunk target_tokens must be in [",
                                                   kMinTargetTokens, ", ", kMaxTargetTokens,
                                                   "], got ", options.target_tokens));
  }
  if (options.overlap_tokens < 0 || 2 * options.overlap_tokens >= options.target_tokens) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk overlap_tokens must be at least 0 and less than half of "
                     "target_tokens (",
                     options.target_tokens, "), got ", options.overlap_tokens));
  }
  return absl::OkStatus();
}

std::vector<ChunkSpan> ChunkText(std::string_view text, const ChunkerOptions& options) {
  std::vector<ChunkSpan> chunks;
  const std::vector<Token> tokens = Tokenize(text);
  const size_t n = tokens.size();
  if (n == 0) return chunks;
  const size_t target = static_cast<size_t>(options.target_tokens);
  const size_t overlap = static_cast<size_t>(options.overlap_tokens);
  // Cuts are chosen in the last quarter of the window, so every chunk but the last has at
  // least 3/4 of the target; with overlap < target / 2 each step moves forward by more than
  // target / 4 tokens, and the candidate ranges of successive windows do not overlap, so the
  // whole pass is linear.
  const size_t min_length = target - target / 4;
  chunks.reserve(n / (min_length - overlap) + 1);
  size_t begin = 0;
  while (n - begin > target) {
    size_t best_end = begin + target;
    int best_quality = -1;
    // Latest cut wins ties: chunks stay as close to the target as the text allows.
    for (size_t end = begin + target; end >= begin + min_length; --end) {
      const CutQuality quality = CutAfter(text, tokens, end - 1);
      if (quality > best_quality) {
        best_quality = quality;
        best_end = end;
        if (quality == kParagraph) break;
      }
    }
    chunks.push_back({tokens[begin].start, tokens[best_end - 1].end});
    begin = best_end - overlap;
  }
  chunks.push_back({tokens[begin].start, tokens[n - 1].end});
  return chunks;
}

}  // namespace quarry::text
