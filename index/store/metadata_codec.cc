#include "index/store/metadata_codec.h"

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"

namespace quarry {
namespace {

constexpr uint8_t kKindString = 0;
constexpr uint8_t kKindNumber = 1;
constexpr uint8_t kKindBool = 2;
static_assert(std::is_same_v<std::variant_alternative_t<kKindString, MetadataValue>, std::string>);
static_assert(std::is_same_v<std::variant_alternative_t<kKindNumber, MetadataValue>, double>);
static_assert(std::is_same_v<std::variant_alternative_t<kKindBool, MetadataValue>, bool>);

// The fewest bytes an entry takes (empty key, kind, one-byte value): a count is checked
// against it before anything is reserved, so a corrupt count cannot allocate gigabytes.
constexpr uint64_t kMinEntryBytes = 3;

}  // namespace

void PutMetadata(const Metadata& metadata, binary_codec::ByteWriter& out) {
  out.PutVarint(metadata.size());
  for (const auto& [key, value] : metadata) {
    out.PutString(key);
    out.PutByte(static_cast<uint8_t>(value.index()));
    switch (value.index()) {
      case kKindString:
        out.PutString(std::get<kKindString>(value));
        break;
      case kKindNumber:
        out.PutFixed(std::get<kKindNumber>(value));
        break;
      case kKindBool:
        out.PutByte(std::get<kKindBool>(value) ? 1 : 0);
        break;
    }
  }
}

absl::Status ReadMetadata(binary_codec::ByteReader& in, Metadata* metadata) {
  uint64_t count = 0;
  if (absl::Status s = in.Count("metadata count", kMinEntryBytes, &count); !s.ok()) return s;
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
        if (absl::Status s = in.Fixed("metadata number", &number); !s.ok()) return s;
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
    if (!metadata->empty() && metadata->rbegin()->first >= key) {
      return in.Error("metadata keys out of order or repeated");
    }
    metadata->emplace_hint(metadata->end(), std::move(key), std::move(value));
  }
  return absl::OkStatus();
}

}  // namespace quarry
