// Splits prose into sentences for extractive answers. Rules, in order of strength:
//   - a blank line ends a sentence (paragraphs), and so does a line break before a list item
//     or a markdown heading, or after a line that has no final punctuation (a heading);
//   - '.', '!', '?' and '…' end a sentence when followed (after any closing quotes or
//     brackets) by whitespace and then something that is not a lowercase letter, unless the
//     word before the period is a known abbreviation ("Dr.", "e.g.") or a single initial;
//   - the CJK full stops '。', '！', '？' always end a sentence.
// Heuristics, not a parser: good on encyclopedic and scientific prose, which is what
// retrieved chunks mostly hold.
#ifndef QUARRY_SERVER_GENERATION_SENTENCE_SPLITTER_H_
#define QUARRY_SERVER_GENERATION_SENTENCE_SPLITTER_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace quarry::generation {

struct SentenceSpan {
  uint32_t start = 0;  // UTF-8 byte offsets [start, end), trimmed of surrounding whitespace
  uint32_t end = 0;

  friend bool operator==(const SentenceSpan&, const SentenceSpan&) = default;
};

// Sentences of `text` in order. Spans with no letter or digit are dropped.
// Precondition: `text` is valid UTF-8.
std::vector<SentenceSpan> SplitSentences(std::string_view text);

}  // namespace quarry::generation

#endif  // QUARRY_SERVER_GENERATION_SENTENCE_SPLITTER_H_
