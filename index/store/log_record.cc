#include "index/store/log_record.h"

#include <bit>
#include <cstddef>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "index/store/binary_codec.h"
#include "index/store/metadata_codec.h"

namespace quarry {
namespace {

// Floats are copied as raw bytes; the format is little-endian IEEE-754, so a big-endian or
// non-IEEE host would need byte swapping that nothing here does.
static_assert(std::endian::native == std::endian::little,
              "log_record.cc assumes a little-endian host");
static_assert(std::numeric_limits<float>::is_iec559 && sizeof(float) == 4);
static_assert(std::numeric_limits<double>::is_iec559 && sizeof(double) == 8);

constexpr uint8_t kVersion = 1;


// The fewest bytes each repeated element can take. A count is checked against them before
// anything is reserved, so a corrupt count cannot make the decoder allocate gigabytes.
constexpr uint64_t kMinDocumentBytes = 5;  // three empty strings, two zero counts
constexpr uint64_t kMinChunkBytes = 3;     // start, end, dim = 0
constexpr uint64_t kMinIdBytes = 1;        // empty string

using binary_codec::ByteReader;
using binary_codec::ByteWriter;

void PutDocument(const StoredDocument& doc, ByteWriter& out) {
  out.PutString(doc.id);
  out.PutString(doc.title);
  out.PutString(doc.text);
  PutMetadata(doc.metadata, out);
  out.PutVarint(doc.chunks.size());
  for (const StoredChunk& chunk : doc.chunks) {
    out.PutVarint(chunk.start);
    out.PutVarint(chunk.end);
    out.PutFloats(chunk.vector);
  }
}

absl::Status DecodeChunks(ByteReader& in, size_t text_size, std::vector<StoredChunk>* chunks) {
  uint64_t count = 0;
  if (absl::Status s = in.Count("chunk count", kMinChunkBytes, &count); !s.ok()) return s;
  chunks->reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t start = 0;
    uint64_t end = 0;
    if (absl::Status s = in.Varint("chunk start", &start); !s.ok()) return s;
    if (absl::Status s = in.Varint("chunk end", &end); !s.ok()) return s;
    // Consumers slice the text with these, so a bad range must not get past the decoder.
    if (start > end || end > text_size) {
      return in.Error(
          absl::StrCat("chunk range [", start, ", ", end, ") outside text of ", text_size));
    }
    StoredChunk& chunk = chunks->emplace_back();
    chunk.start = static_cast<uint32_t>(start);
    chunk.end = static_cast<uint32_t>(end);
    if (absl::Status s = in.Floats("chunk vector", &chunk.vector); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status DecodeDocument(ByteReader& in, StoredDocument* doc) {
  if (absl::Status s = in.String("document id", &doc->id); !s.ok()) return s;
  if (absl::Status s = in.String("document title", &doc->title); !s.ok()) return s;
  if (absl::Status s = in.String("document text", &doc->text); !s.ok()) return s;
  if (doc->text.size() > std::numeric_limits<uint32_t>::max()) {
    return in.Error("document text longer than 4 GiB");
  }
  if (absl::Status s = ReadMetadata(in, &doc->metadata); !s.ok()) return s;
  return DecodeChunks(in, doc->text.size(), &doc->chunks);
}

}  // namespace

std::string EncodeLogRecord(const LogRecord& record) {
  std::string out;
  ByteWriter writer(&out);
  writer.PutByte(kVersion);
  writer.PutByte(static_cast<uint8_t>(record.type));
  if (record.type == LogRecord::Type::kDelete) {
    writer.PutVarint(record.deleted_ids.size());
    for (const std::string& id : record.deleted_ids) writer.PutString(id);
  } else {
    writer.PutVarint(record.documents.size());
    for (const StoredDocument& doc : record.documents) PutDocument(doc, writer);
  }
  return out;
}

absl::StatusOr<LogRecord> DecodeLogRecord(std::string_view payload) {
  ByteReader in(absl::string_view(payload.data(), payload.size()), "log record");
  uint8_t version = 0;
  if (absl::Status s = in.Byte("version", &version); !s.ok()) return s;
  if (version != kVersion)
    return in.Error(absl::StrCat("unknown record version ", static_cast<int>(version)));
  uint8_t type = 0;
  if (absl::Status s = in.Byte("type", &type); !s.ok()) return s;

  LogRecord record;
  switch (type) {
    case static_cast<uint8_t>(LogRecord::Type::kUpsert): {
      record.type = LogRecord::Type::kUpsert;
      uint64_t count = 0;
      if (absl::Status s = in.Count("document count", kMinDocumentBytes, &count); !s.ok()) {
        return s;
      }
      record.documents.reserve(count);
      for (uint64_t i = 0; i < count; ++i) {
        if (absl::Status s = DecodeDocument(in, &record.documents.emplace_back()); !s.ok()) {
          return s;
        }
      }
      break;
    }
    case static_cast<uint8_t>(LogRecord::Type::kDelete): {
      record.type = LogRecord::Type::kDelete;
      uint64_t count = 0;
      if (absl::Status s = in.Count("delete count", kMinIdBytes, &count); !s.ok()) return s;
      record.deleted_ids.reserve(count);
      for (uint64_t i = 0; i < count; ++i) {
        if (absl::Status s = in.String("deleted id", &record.deleted_ids.emplace_back()); !s.ok()) {
          return s;
        }
      }
      break;
    }
    default:
      return in.Error(absl::StrCat("unknown record type ", static_cast<int>(type)));
  }
  if (in.remaining() != 0) {
    return in.Error(absl::StrCat(in.remaining(), " trailing bytes"));
  }
  return record;
}

}  // namespace quarry
