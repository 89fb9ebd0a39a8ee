// The core's own document model: what a caller stores and what the log records.
// Kept free of protobuf so that index/ stays independent of the API layer.
#ifndef QUARRY_INDEX_DOCUMENT_H_
#define QUARRY_INDEX_DOCUMENT_H_

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace quarry {

// A metadata value: string, number or bool (the order of the variant is part of the log
// format: index 0 string, 1 number, 2 bool).
using MetadataValue = std::variant<std::string, double, bool>;

// Sorted by key so that encoding is deterministic.
using Metadata = std::map<std::string, MetadataValue>;

// A document as submitted (before chunking).
struct Document {
  std::string id;
  std::string title;
  std::string text;
  Metadata metadata;
  std::vector<float> vector;  // caller-supplied embedding; empty when none
};

// One chunk of a stored document: its UTF-8 byte range in the text and its embedding
// (empty for collections without dense vectors).
struct StoredChunk {
  uint32_t start = 0;
  uint32_t end = 0;
  std::vector<float> vector;
};

// A document after chunking and embedding: what the log stores, so that replaying the log
// never needs the embedder again.
struct StoredDocument {
  std::string id;
  std::string title;
  std::string text;
  Metadata metadata;
  std::vector<StoredChunk> chunks;
};

}  // namespace quarry

#endif  // QUARRY_INDEX_DOCUMENT_H_
