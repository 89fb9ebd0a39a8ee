// Word normalisation shared by the analyzer and the built-in embedder, so both see the same
// words: simple case folding, the English stop-word list, and which words become terms at
// all. Internal to quarry_text.
#ifndef QUARRY_INDEX_TEXT_NORMALIZE_H_
#define QUARRY_INDEX_TEXT_NORMALIZE_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"

namespace quarry::text {

// Words longer than this (in bytes) are not terms: they are identifiers, hashes or blobs that
// would only bloat the lexicon.
inline constexpr size_t kMaxTermBytes = 64;

// Appends the case-folded form of `word` (valid UTF-8) to `out`: ASCII, Latin-1, Latin
// Extended-A, Greek, Cyrillic and Armenian capitals to small letters, final sigma to sigma,
// "ß" to "ss", and typographic apostrophes (U+2019, U+02BC) to "'". Other text is copied.
void AppendCaseFolded(std::string_view word, std::string* out);

// True if `folded_word` is an English stop word (Snowball's list). Expects folded input.
bool IsStopWord(std::string_view folded_word);

// Calls `fn(folded_word)` for each word of `text` (valid UTF-8) that can become a term, in
// order: case-folded, not a stop word, at most kMaxTermBytes long. `folded_word` is valid only
// during the call.
void ForEachContentWord(std::string_view text, absl::FunctionRef<void(std::string_view)> fn);

}  // namespace quarry::text

#endif  // QUARRY_INDEX_TEXT_NORMALIZE_H_
