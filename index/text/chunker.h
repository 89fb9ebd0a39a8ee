// Splits a document into overlapping chunks of about `target_tokens` tokens, preferring to
// cut at paragraph breaks, then sentence ends, then any token boundary. Chunks are byte ranges
// of the original text, so hits can point back into the document.
#ifndef QUARRY_INDEX_TEXT_CHUNKER_H_
#define QUARRY_INDEX_TEXT_CHUNKER_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace quarry::text {

struct ChunkerOptions {
  int target_tokens = 256;
  int overlap_tokens = 32;
};

struct ChunkSpan {
  uint32_t start = 0;  // byte offsets [start, end) in the document text
  uint32_t end = 0;
};

// INVALID_ARGUMENT unless 16 <= target_tokens <= 4096 and 0 <= overlap_tokens < target/2.
absl::Status ValidateChunkerOptions(const ChunkerOptions& options);

// Precondition: `text` is valid UTF-8 and `options` are valid. A text with at least one
// token yields at least one chunk; chunks cover every token, in order.
std::vector<ChunkSpan> ChunkText(std::string_view text, const ChunkerOptions& options);

}  // namespace quarry::text

#endif  // QUARRY_INDEX_TEXT_CHUNKER_H_
