// Splits text into tokens: words (runs of letters and digits, any script) and single
// punctuation marks, each with its UTF-8 byte range. The chunker counts these tokens; the
// analyzer turns the word tokens into search terms.
#ifndef QUARRY_INDEX_TEXT_TOKENIZER_H_
#define QUARRY_INDEX_TEXT_TOKENIZER_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace quarry::text {

struct Token {
  uint32_t start = 0;  // byte offsets [start, end) in the text
  uint32_t end = 0;
  bool is_word = false;  // false: a punctuation mark or symbol
};

// Precondition: `text` is valid UTF-8. Whitespace produces no token.
std::vector<Token> Tokenize(std::string_view text);

}  // namespace quarry::text

#endif  // QUARRY_INDEX_TEXT_TOKENIZER_H_
