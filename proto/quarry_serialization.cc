#include "proto/quarry_serialization.h"

#include <absl/strings/escaping.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/string_view.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace quarry::v1::serialization {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;

// Nesting deeper than protobuf's default recursion limit fails its parse anyway.
constexpr int kMaxDepth = 100;
// Map keys quoted in a path are cut to about this many bytes.
constexpr size_t kMaxQuotedKeyBytes = 64;

thread_local std::optional<grpc::Status> last_request_error;

// Well-formed UTF-8: no overlong forms, surrogates or code points above U+10FFFF (the same
// rule as protobuf's own check).
bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  const size_t size = text.size();
  while (i < size) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    uint32_t code_point;
    uint32_t minimum;
    if ((lead & 0xE0) == 0xC0) {
      length = 2, code_point = lead & 0x1F, minimum = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3, code_point = lead & 0x0F, minimum = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4, code_point = lead & 0x07, minimum = 0x10000;
    } else {
      return false;
    }
    if (size - i < length) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto continuation = static_cast<unsigned char>(text[i + k]);
      if ((continuation & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (continuation & 0x3F);
    }
    if (code_point < minimum || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

// --- A minimal reader of the protobuf wire format over bytes already in memory ------------------
// (UnknownFieldSet would do, but copies every length-delimited field at every nesting level.)

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

struct WireField {
  uint32_t number = 0;
  uint32_t wire_type = 0;
  uint64_t value = 0;      // kVarint, kFixed64, kFixed32
  std::string_view bytes;  // kLengthDelimited: the payload; kStartGroup: the group's fields
};

class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  bool done() const { return position_ == data_.size(); }

  // Reads the next field. False on malformed input and, at `depth` 0, on an end-group tag.
  bool Next(WireField* field, int depth = 0) {
    uint64_t tag;
    if (!ReadVarint(&tag) || tag > UINT32_MAX) return false;
    field->number = static_cast<uint32_t>(tag >> 3);
    field->wire_type = static_cast<uint32_t>(tag & 7);
    if (field->number == 0) return false;
    switch (field->wire_type) {
      case kVarint:
        return ReadVarint(&field->value);
      case kFixed64:
        return ReadFixed(8, &field->value);
      case kFixed32:
        return ReadFixed(4, &field->value);
      case kLengthDelimited: {
        uint64_t length;
        if (!ReadVarint(&length) || length > data_.size() - position_) return false;
        field->bytes = data_.substr(position_, length);
        position_ += length;
        return true;
      }
      case kStartGroup: {
        if (depth >= kMaxDepth) return false;
        const size_t start = position_;
        WireField inner;
        while (true) {
          const size_t before = position_;
          if (!Next(&inner, depth + 1)) {
            // The group's own end tag reads as "end group at depth + 1": check it is ours.
            const bool ours = at_end_group_ && inner.number == field->number;
            at_end_group_ = false;
            if (!ours) return false;
            field->bytes = data_.substr(start, before - start);
            return true;
          }
        }
      }
      case kEndGroup:
        at_end_group_ = depth > 0;
        return false;
      default:
        return false;
    }
  }

 private:
  bool ReadVarint(uint64_t* value) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (position_ == data_.size()) return false;
      const auto byte = static_cast<unsigned char>(data_[position_++]);
      result |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) {
        *value = result;
        return true;
      }
    }
    return false;
  }

  bool ReadFixed(size_t bytes, uint64_t* value) {
    if (data_.size() - position_ < bytes) return false;
    uint64_t result = 0;
    for (size_t i = 0; i < bytes; ++i) {
      result |= static_cast<uint64_t>(static_cast<unsigned char>(data_[position_ + i])) << (8 * i);
    }
    position_ += bytes;
    *value = result;
    return true;
  }

  std::string_view data_;
  size_t position_ = 0;
  bool at_end_group_ = false;
};

// --- The schema walk ---------------------------------------------------------------------------

bool RequiresUtf8(const FieldDescriptor& field) {
  return field.type() == FieldDescriptor::TYPE_STRING &&
         field.file()->syntax() == FileDescriptor::SYNTAX_PROTO3;
}

// The wire type a field of this declared type is parsed from (packed repeated scalars aside,
// which never matter here).
uint32_t ExpectedWireType(const FieldDescriptor& field) {
  switch (field.type()) {
    case FieldDescriptor::TYPE_STRING:
    case FieldDescriptor::TYPE_BYTES:
    case FieldDescriptor::TYPE_MESSAGE:
      return kLengthDelimited;
    case FieldDescriptor::TYPE_GROUP:
      return kStartGroup;
    case FieldDescriptor::TYPE_DOUBLE:
    case FieldDescriptor::TYPE_FIXED64:
    case FieldDescriptor::TYPE_SFIXED64:
      return kFixed64;
    case FieldDescriptor::TYPE_FLOAT:
    case FieldDescriptor::TYPE_FIXED32:
    case FieldDescriptor::TYPE_SFIXED32:
      return kFixed32;
    default:
      return kVarint;
  }
}

std::string Join(const std::string& path, std::string_view name) {
  if (path.empty()) return std::string(name);
  return absl::StrCat(path, ".", absl::string_view(name.data(), name.size()));
}

// `key` as it appears in a path: ['quoted'] for strings, [123] or [true] otherwise.
std::string FormatMapKey(const FieldDescriptor& key_field, const WireField* key) {
  switch (key_field.type()) {
    case FieldDescriptor::TYPE_STRING:
    case FieldDescriptor::TYPE_BYTES: {
      std::string_view text = key != nullptr ? key->bytes : std::string_view();
      bool cut = false;
      if (text.size() > kMaxQuotedKeyBytes) {
        size_t end = kMaxQuotedKeyBytes;
        while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
        text = text.substr(0, end);
        cut = true;
      }
      return absl::StrCat("['", absl::Utf8SafeCEscape(absl::string_view(text.data(), text.size())),
                          cut ? "...']" : "']");
    }
    case FieldDescriptor::TYPE_BOOL:
      return (key != nullptr && key->value != 0) ? "[true]" : "[false]";
    default:
      break;
  }
  const uint64_t raw = key != nullptr ? key->value : 0;
  switch (key_field.type()) {
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_SFIXED32:
      return absl::StrCat("[", static_cast<int32_t>(static_cast<uint32_t>(raw)), "]");
    case FieldDescriptor::TYPE_INT64:
    case FieldDescriptor::TYPE_SFIXED64:
      return absl::StrCat("[", static_cast<int64_t>(raw), "]");
    case FieldDescriptor::TYPE_SINT32: {
      const auto n = static_cast<uint32_t>(raw);
      return absl::StrCat("[", static_cast<int32_t>((n >> 1) ^ (~(n & 1) + 1)), "]");
    }
    case FieldDescriptor::TYPE_SINT64:
      return absl::StrCat("[", static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1)), "]");
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_FIXED32:
      return absl::StrCat("[", static_cast<uint32_t>(raw), "]");
    default:
      return absl::StrCat("[", raw, "]");
  }
}

std::optional<std::string> FindInvalidUtf8(const Descriptor& type, std::string_view wire,
                                           const std::string& path, int depth);

// A map entry (key = 1, value = 2) of `field` at `path` (the map's path).
std::optional<std::string> CheckMapEntry(const FieldDescriptor& field, std::string_view entry,
                                         const std::string& path, int depth) {
  const Descriptor& entry_type = *field.message_type();
  const FieldDescriptor& key_field = *entry_type.map_key();
  const FieldDescriptor& value_field = *entry_type.map_value();
  // The last occurrence of each wins, as when protobuf parses the entry.
  std::optional<WireField> key;
  std::optional<WireField> value;
  WireReader reader(entry);
  WireField wire_field;
  while (!reader.done()) {
    if (!reader.Next(&wire_field)) return std::nullopt;  // malformed entry
    if (wire_field.number == static_cast<uint32_t>(key_field.number()) &&
        wire_field.wire_type == ExpectedWireType(key_field)) {
      key = wire_field;
    } else if (wire_field.number == static_cast<uint32_t>(value_field.number()) &&
               wire_field.wire_type == ExpectedWireType(value_field)) {
      value = wire_field;
    }
  }
  if (key.has_value() && RequiresUtf8(key_field) && !IsValidUtf8(key->bytes)) {
    return absl::StrCat(path, ": a key is not valid UTF-8");
  }
  if (!value.has_value()) return std::nullopt;
  const std::string value_path =
      absl::StrCat(path, FormatMapKey(key_field, key.has_value() ? &*key : nullptr));
  if (RequiresUtf8(value_field)) {
    if (!IsValidUtf8(value->bytes)) return absl::StrCat(value_path, ": is not valid UTF-8");
  } else if (value_field.type() == FieldDescriptor::TYPE_MESSAGE) {
    return FindInvalidUtf8(*value_field.message_type(), value->bytes, value_path, depth + 1);
  }
  return std::nullopt;
}

// The message for the first proto3 string field in `wire` (a `type` message at `path`) whose
// bytes are not valid UTF-8; nullopt if there is none. Parts that are not well-formed are
// skipped: a malformed nested message ends the walk of that message only.
std::optional<std::string> FindInvalidUtf8(const Descriptor& type, std::string_view wire,
                                           const std::string& path, int depth) {
  if (depth > kMaxDepth) return std::nullopt;
  std::map<uint32_t, int> occurrences;  // of each repeated field so far: the next index
  WireReader reader(wire);
  WireField wire_field;
  while (!reader.done()) {
    if (!reader.Next(&wire_field)) return std::nullopt;
    const FieldDescriptor* field = type.FindFieldByNumber(static_cast<int>(wire_field.number));
    // Unknown fields and fields sent with another wire type are kept as unknown fields.
    if (field == nullptr || wire_field.wire_type != ExpectedWireType(*field)) continue;
    if (field->type() != FieldDescriptor::TYPE_STRING &&
        field->type() != FieldDescriptor::TYPE_MESSAGE &&
        field->type() != FieldDescriptor::TYPE_GROUP) {
      continue;
    }
    std::string field_path = Join(path, field->name());
    if (field->is_map()) {
      if (std::optional<std::string> problem =
              CheckMapEntry(*field, wire_field.bytes, field_path, depth)) {
        return problem;
      }
      continue;
    }
    if (field->is_repeated()) {
      absl::StrAppend(&field_path, "[", occurrences[wire_field.number]++, "]");
    }
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      if (RequiresUtf8(*field) && !IsValidUtf8(wire_field.bytes)) {
        std::string problem = absl::StrCat(field_path, ": is not valid UTF-8");
        // A bare top-level name says little on its own; name the oneof it belongs to.
        if (depth == 0 && field->real_containing_oneof() != nullptr) {
          absl::StrAppend(&problem, " (oneof ", field->real_containing_oneof()->name(), ")");
        }
        return problem;
      }
      continue;
    }
    if (std::optional<std::string> problem =
            FindInvalidUtf8(*field->message_type(), wire_field.bytes, field_path, depth + 1)) {
      return problem;
    }
  }
  return std::nullopt;
}

}  // namespace

grpc::Status DescribeParseFailure(std::string_view wire, const Descriptor& type) {
  if (std::optional<std::string> problem = FindInvalidUtf8(type, wire, "", 0)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, *problem);
  }
  return grpc::Status(
      grpc::StatusCode::INVALID_ARGUMENT,
      absl::StrCat("request is not a valid ", type.full_name(), ": malformed protobuf"));
}

grpc::Status DeserializeRequest(grpc::ByteBuffer* buffer, google::protobuf::Message* message) {
  // As grpc::GenericDeserialize (grpcpp/impl/codegen/proto_utils.h), which would clear the
  // buffer before we could read it again.
  if (buffer == nullptr) return grpc::Status(grpc::StatusCode::INTERNAL, "No payload");
  bool parsed;
  {
    grpc::ProtoBufferReader reader(buffer);
    if (!reader.status().ok()) {
      last_request_error = reader.status();
      return reader.status();
    }
    parsed = message->ParseFromZeroCopyStream(&reader);
  }
  grpc::Status result;
  if (!parsed) {
    std::string wire;
    {
      grpc::ProtoBufferReader reader(buffer);
      const void* data = nullptr;
      int size = 0;
      while (reader.status().ok() && reader.Next(&data, &size)) {
        wire.append(static_cast<const char*>(data), static_cast<size_t>(size));
      }
    }
    result = DescribeParseFailure(wire, *message->GetDescriptor());
    last_request_error = result;
  }
  buffer->Clear();
  return result;
}

void ClearLastRequestError() { last_request_error.reset(); }

grpc::Status TakeLastRequestError() {
  grpc::Status error = last_request_error.value_or(grpc::Status::OK);
  last_request_error.reset();
  return error;
}

}  // namespace quarry::v1::serialization
