// UTF-8 validation and decoding. Every text that enters Quarry is validated once at the edge;
// the tokenizer relies on it being valid.
#ifndef QUARRY_INDEX_TEXT_UTF8_H_
#define QUARRY_INDEX_TEXT_UTF8_H_

#include <cstddef>
#include <string_view>

namespace quarry::text {

// True if `text` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool IsValidUtf8(std::string_view text);

// Decodes the code point at text[*position] and advances *position past it.
// Precondition: `text` is valid UTF-8 and *position < text.size().
char32_t DecodeUtf8(std::string_view text, size_t* position);

}  // namespace quarry::text

#endif  // QUARRY_INDEX_TEXT_UTF8_H_
