#include "index/store/log_record.h"

#include <bit>
#include <cstddef>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace quarry {
namespace {

// Floats are copied as raw bytes; the format is little-endian IEEE-754, so a big-endian or
// non-IEEE host would need byte swapping that nothing here does.
static_assert(std::endian::native == std::endian::little,
              "log_record.cc assumes a little-endian host");
static_assert(std::numeric_limits<float>::is_iec559 && sizeof(float) == 4);
static_assert(std::numeric_limits<double>::is_iec559 && sizeof(double) == 8);

constexpr uint8_t kVersion = 1;

// The metadata kinds are the indexes of MetadataValue's alternatives (see document.h).
constexpr uint8_t kKindString = 0;
constexpr uint8_t kKindNumber = 1;
constexpr uint8_t kKindBool = 2;
static_assert(std::is_same_v<std::variant_alternative_t<kKindString, MetadataValue>, std::string>);
static_assert(std::is_same_v<std::variant_alternative_t<kKindNumber, MetadataValue>, double>);
static_assert(std::is_same_v<std::variant_alternative_t<kKindBool, MetadataValue>, bool>);

// The fewest bytes each repeated element can take. A count is checked against them before
// anything is reserved, so a corrupt count cannot make the decoder allocate gigabytes.
constexpr uint64_t kMinDocumentBytes = 5;  // three empty strings, two zero counts
constexpr uint64_t kMinMetadataBytes = 3;  // empty key, kind, bool or empty string
constexpr uint64_t kMinChunkBytes = 3;     // start, end, dim = 0
constexpr uint64_t kMinIdBytes = 1;        // empty string

void PutVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void PutString(std::string_view s, std::string* out) {
  PutVarint(s.size(), out);
  out->append(s);
}

template <typename T>
void PutRaw(const T& value, std::string* out) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(value));
}

void PutDocument(const StoredDocument& doc, std::string* out) {
  PutString(doc.id, out);
  PutString(doc.title, out);
  PutString(doc.text, out);
  PutVarint(doc.metadata.size(), out);
  for (const auto& [key, value] : doc.metadata) {
    PutString(key, out);
    out->push_back(static_cast<char>(value.index()));
    switch (value.index()) {
      case kKindString:
        PutString(std::get<kKindString>(value), out);
        break;
      case kKindNumber:
        PutRaw(std::get<kKindNumber>(value), out);
        break;
      case kKindBool:
        out->push_back(std::get<kKindBool>(value) ? 1 : 0);
        break;
    }
  }
  PutVarint(doc.chunks.size(), out);
  for (const StoredChunk& chunk : doc.chunks) {
    PutVarint(chunk.start, out);
    PutVarint(chunk.end, out);
    PutVarint(chunk.vector.size(), out);
    if (!chunk.vector.empty()) {
      out->append(reinterpret_cast<const char*>(chunk.vector.data()),
                  chunk.vector.size() * sizeof(float));
    }
  }
}

// Reads a payload front to back. Every read checks the bytes left first; an error names the
// field and the byte offset so that a corrupt record can be found with a hex dump.
class Decoder {
 public:
  explicit Decoder(std::string_view payload) : payload_(payload) {}

  size_t remaining() const { return payload_.size() - pos_; }

  absl::Status Error(absl::string_view what) const {
    return absl::DataLossError(
        absl::StrCat("log record: ", what, " at byte ", pos_, " of ", payload_.size()));
  }

  absl::Status Byte(absl::string_view field, uint8_t* out) {
    if (remaining() < 1) return Error(absl::StrCat("truncated ", field));
    *out = static_cast<uint8_t>(payload_[pos_++]);
    return absl::OkStatus();
  }

  absl::Status Varint(absl::string_view field, uint64_t* out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (remaining() < 1) return Error(absl::StrCat("truncated varint ", field));
      const uint8_t byte = static_cast<uint8_t>(payload_[pos_++]);
      // The tenth byte holds bit 63 only; anything more does not fit in 64 bits.
      if (shift == 63 && byte > 1) return Error(absl::StrCat("varint overflow in ", field));
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *out = value;
        return absl::OkStatus();
      }
    }
    return Error(absl::StrCat("varint overflow in ", field));
  }

  // A count of elements that take at least `min_bytes` each; bounded by what is left.
  absl::Status Count(absl::string_view field, uint64_t min_bytes, uint64_t* out) {
    if (absl::Status s = Varint(field, out); !s.ok()) return s;
    if (*out > remaining() / min_bytes) {
      return Error(absl::StrCat(field, " ", *out, " exceeds the remaining bytes"));
    }
    return absl::OkStatus();
  }

  absl::Status String(absl::string_view field, std::string* out) {
    uint64_t length = 0;
    if (absl::Status s = Varint(field, &length); !s.ok()) return s;
    if (length > remaining()) {
      return Error(absl::StrCat(field, " length ", length, " exceeds the remaining bytes"));
    }
    out->assign(payload_.data() + pos_, length);
    pos_ += length;
    return absl::OkStatus();
  }

  absl::Status Double(absl::string_view field, double* out) {
    if (remaining() < sizeof(double)) return Error(absl::StrCat("truncated ", field));
    std::memcpy(out, payload_.data() + pos_, sizeof(double));
    pos_ += sizeof(double);
    return absl::OkStatus();
  }

  absl::Status Floats(absl::string_view field, std::vector<float>* out) {
    uint64_t dim = 0;
    if (absl::Status s = Varint(field, &dim); !s.ok()) return s;
    if (dim > remaining() / sizeof(float)) {
      return Error(absl::StrCat(field, " dimension ", dim, " exceeds the remaining bytes"));
    }
    out->resize(dim);
    if (dim == 0) return absl::OkStatus();  // memcpy to an empty vector's null data() is UB
    std::memcpy(out->data(), payload_.data() + pos_, dim * sizeof(float));
    pos_ += dim * sizeof(float);
    return absl::OkStatus();
  }

 private:
  std::string_view payload_;
  size_t pos_ = 0;
};

absl::Status DecodeMetadata(Decoder& in, Metadata* metadata) {
  uint64_t count = 0;
  if (absl::Status s = in.Count("metadata count", kMinMetadataBytes, &count); !s.ok()) return s;
  for (uint64_t i = 0; i < count; ++i) {
    std::string key;
    if (absl::Status s = in.String("metadata key", &key); !s.ok()) return s;
    uint8_t kind = 0;
    if (absl::Status s = in.Byte("metadata kind", &kind); !s.ok()) return s;
    MetadataValue value;
    switch (kind) {
      case kKindString: {
        std::string text;
        if (absl::Status s = in.String("metadata string", &text); !s.ok()) return s;
        value = std::move(text);
        break;
      }
      case kKindNumber: {
        double number = 0;
        if (absl::Status s = in.Double("metadata number", &number); !s.ok()) return s;
        value = number;
        break;
      }
      case kKindBool: {
        uint8_t flag = 0;
        if (absl::Status s = in.Byte("metadata bool", &flag); !s.ok()) return s;
        if (flag > 1) return in.Error(absl::StrCat("metadata bool byte ", static_cast<int>(flag)));
        value = flag == 1;
        break;
      }
      default:
        return in.Error(absl::StrCat("unknown metadata kind ", static_cast<int>(kind)));
    }
    // An encoder writes a std::map, so a repeated key can only come from corruption.
    if (!metadata->emplace(std::move(key), std::move(value)).second) {
      return in.Error("duplicate metadata key");
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeChunks(Decoder& in, size_t text_size, std::vector<StoredChunk>* chunks) {
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

absl::Status DecodeDocument(Decoder& in, StoredDocument* doc) {
  if (absl::Status s = in.String("document id", &doc->id); !s.ok()) return s;
  if (absl::Status s = in.String("document title", &doc->title); !s.ok()) return s;
  if (absl::Status s = in.String("document text", &doc->text); !s.ok()) return s;
  if (doc->text.size() > std::numeric_limits<uint32_t>::max()) {
    return in.Error("document text longer than 4 GiB");
  }
  if (absl::Status s = DecodeMetadata(in, &doc->metadata); !s.ok()) return s;
  return DecodeChunks(in, doc->text.size(), &doc->chunks);
}

}  // namespace

std::string EncodeLogRecord(const LogRecord& record) {
  std::string out;
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(record.type));
  if (record.type == LogRecord::Type::kDelete) {
    PutVarint(record.deleted_ids.size(), &out);
    for (const std::string& id : record.deleted_ids) PutString(id, &out);
  } else {
    PutVarint(record.documents.size(), &out);
    for (const StoredDocument& doc : record.documents) PutDocument(doc, &out);
  }
  return out;
}

absl::StatusOr<LogRecord> DecodeLogRecord(std::string_view payload) {
  Decoder in(payload);
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
