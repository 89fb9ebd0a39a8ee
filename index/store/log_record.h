// The ingest log's record: one atomic batch of upserts or deletes, and its binary encoding.
//
// The payload format is versioned (first byte) and self-describing enough to evolve: new
// fields are appended after the existing ones and old readers reject versions they do not
// know instead of misreading them. Framing and checksums live in ingest_log.h.
//
// Payload v1 (little-endian; "varint" is LEB128; "str" is varint length + bytes):
//   u8 version=1, u8 type (1 upsert, 2 delete)
//   upsert: varint n, then n documents:
//     str id, str title, str text,
//     varint metadata count, each: str key, u8 kind (0 string, 1 number, 2 bool), value
//       (string: str; number: f64; bool: u8)
//     varint chunk count, each: varint start, varint end, varint dim, dim x f32
//   delete: varint n, n x str id
#ifndef QUARRY_INDEX_STORE_LOG_RECORD_H_
#define QUARRY_INDEX_STORE_LOG_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "index/document.h"

namespace quarry {

struct LogRecord {
  enum class Type : uint8_t { kUpsert = 1, kDelete = 2 };
  Type type = Type::kUpsert;
  std::vector<StoredDocument> documents;  // kUpsert
  std::vector<std::string> deleted_ids;   // kDelete
};

std::string EncodeLogRecord(const LogRecord& record);

// DATA_LOSS for a payload that is truncated, has trailing bytes, or an unknown version/type.
absl::StatusOr<LogRecord> DecodeLogRecord(std::string_view payload);

}  // namespace quarry

#endif  // QUARRY_INDEX_STORE_LOG_RECORD_H_
