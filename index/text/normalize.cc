#include "index/text/normalize.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "index/text/tokenizer.h"

namespace quarry::text {
namespace {

// Snowball's English stop-word list, in byte order for binary search.
// clang-format off
constexpr std::string_view kStopWords[] = {
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
    "aren't", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both",
    "but", "by", "can't", "cannot", "could", "couldn't", "did", "didn't", "do", "does", "doesn't",
    "doing", "don't", "down", "during", "each", "few", "for", "from", "further", "had", "hadn't",
    "has", "hasn't", "have", "haven't", "having", "he", "he'd", "he'll", "he's", "her", "here",
    "here's", "hers", "herself", "him", "himself", "his", "how", "how's", "i", "i'd", "i'll",
    "i'm", "i've", "if", "in", "into", "is", "isn't", "it", "it's", "its", "itself", "let's",
    "me", "more", "most", "mustn't", "my", "myself", "no", "nor", "not", "of", "off", "on",
    "once", "only", "or", "other", "ought", "our", "ours", "ourselves", "out", "over", "own",
    "same", "shan't", "she", "she'd", "she'll", "she's", "should", "shouldn't", "so", "some",
    "such", "than", "that", "that's", "the", "their", "theirs", "them", "themselves", "then",
    "there", "there's", "these", "they", "they'd", "they'll", "they're", "they've", "this",
    "those", "through", "to", "too", "under", "until", "up", "very", "was", "wasn't", "we",
    "we'd", "we'll", "we're", "we've", "were", "weren't", "what", "what's", "when", "when's",
    "where", "where's", "which", "while", "who", "who's", "whom", "why", "why's", "with", "won't",
    "would", "wouldn't", "you", "you'd", "you'll", "you're", "you've", "your", "yours",
    "yourself", "yourselves",
};
// clang-format on
static_assert(std::is_sorted(std::begin(kStopWords), std::end(kStopWords)));

constexpr size_t MaxStopWordBytes() {
  size_t longest = 0;
  for (std::string_view word : kStopWords) longest = std::max(longest, word.size());
  return longest;
}
constexpr size_t kMaxStopWordBytes = MaxStopWordBytes();

// Simple (one-to-one) lower-casing of a code point in U+0080..U+07FF; where the result is
// ASCII it is the folded form of a letter that has no small form of its own there.
char32_t FoldTwoByte(char32_t c) {
  if (c < 0x100) {
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 0x20;
    if (c == 0xB5) return 0x3BC;  // micro sign -> mu
    return c;
  }
  if (c < 0x180) {  // Latin Extended-A: mostly capital/small pairs
    if (c == 0x130) return 'i';
    if (c == 0x178) return 0xFF;
    if (c == 0x17F) return 's';  // long s
    if ((c < 0x138 && c != 0x131) || (c >= 0x14A && c < 0x178)) return (c & 1) ? c : c + 1;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c + 1 : c;
    return c;
  }
  if (c == 0x2BC) return '\'';  // modifier apostrophe, as in some transliterations
  if (c < 0x370) return c;
  if (c < 0x400) {  // Greek
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 37;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 63;
    if ((c >= 0x391 && c <= 0x3A1) || (c >= 0x3A3 && c <= 0x3AB)) return c + 0x20;
    if (c == 0x3C2) return 0x3C3;  // final sigma
    return c;
  }
  if (c < 0x530) {  // Cyrillic
    if (c < 0x410) return c + 0x50;
    if (c < 0x430) return c + 0x20;
    if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F)) {
      return (c & 1) ? c : c + 1;
    }
    if (c == 0x4C0) return 0x4CF;
    if (c >= 0x4C1 && c <= 0x4CE) return (c & 1) ? c + 1 : c;
    return c;
  }
  if (c >= 0x531 && c <= 0x556) return c + 0x30;  // Armenian
  return c;
}

}  // namespace

void AppendCaseFolded(std::string_view word, std::string* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(word.data());
  const size_t n = word.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char lead = p[i];
    if (lead < 0x80) {
      out->push_back(static_cast<char>(lead >= 'A' && lead <= 'Z' ? lead + 0x20 : lead));
      ++i;
    } else if (lead < 0xE0) {
      const char32_t c = (static_cast<char32_t>(lead & 0x1F) << 6) | (p[i + 1] & 0x3F);
      i += 2;
      if (c == 0xDF) {
        out->append("ss");
        continue;
      }
      const char32_t folded = FoldTwoByte(c);
      if (folded < 0x80) {
        out->push_back(static_cast<char>(folded));
      } else {
        out->push_back(static_cast<char>(0xC0 | (folded >> 6)));
        out->push_back(static_cast<char>(0x80 | (folded & 0x3F)));
      }
    } else {
      const size_t length = lead < 0xF0 ? 3 : 4;
      // U+2019 RIGHT SINGLE QUOTATION MARK is the typographic apostrophe: "don’t" == "don't".
      if (lead == 0xE2 && p[i + 1] == 0x80 && p[i + 2] == 0x99) {
        out->push_back('\'');
      } else {
        out->append(word.data() + i, length);
      }
      i += length;
    }
  }
}

bool IsStopWord(std::string_view folded_word) {
  if (folded_word.empty() || folded_word.size() > kMaxStopWordBytes) return false;
  return std::binary_search(std::begin(kStopWords), std::end(kStopWords), folded_word);
}

void ForEachContentWord(std::string_view text, absl::FunctionRef<void(std::string_view)> fn) {
  std::string folded;
  // The tokenizer cuts over-long runs into adjacent pieces; pieces of a dropped run are
  // dropped too, rather than indexing the tail of a blob.
  size_t dropped_run_end = std::string_view::npos;
  for (const Token& token : Tokenize(text)) {
    if (!token.is_word) continue;
    const size_t length = token.end - token.start;
    if (length > kMaxTermBytes || token.start == dropped_run_end) {
      dropped_run_end = token.end;
      continue;
    }
    folded.clear();
    AppendCaseFolded(text.substr(token.start, length), &folded);
    if (folded.size() > kMaxTermBytes || IsStopWord(folded)) continue;
    fn(folded);
  }
}

}  // namespace quarry::text
