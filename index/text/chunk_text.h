// The text a chunk is embedded and lexically indexed as: its document's title, a blank line,
// then the chunk's own text. The title gives every chunk of a document the document's topic.
// Shared by the in-memory collection and the shard builder so that a chunk scores the same
// wherever it is served from.
#ifndef QUARRY_INDEX_TEXT_CHUNK_TEXT_H_
#define QUARRY_INDEX_TEXT_CHUNK_TEXT_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace quarry::text {

inline std::string ChunkTextWithTitle(absl::string_view title, absl::string_view chunk_text) {
  if (title.empty()) return std::string(chunk_text);
  return absl::StrCat(title, "\n\n", chunk_text);
}

}  // namespace quarry::text

#endif  // QUARRY_INDEX_TEXT_CHUNK_TEXT_H_
