#ifndef QUARRY_INDEX_STORE_BINARY_CODEC_H_
#define QUARRY_INDEX_STORE_BINARY_CODEC_H_

// Little-endian binary encoding shared by the on-disk formats (log records, shard files, the
// lexical index). Header-only, so that libraries which do not link quarry_store can use it.
//
// Fixed-width values are copied in host order; the formats are little-endian, so a
// big-endian host would need byte swapping that nothing here does. Varints are LEB128.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace quarry::binary_codec {

static_assert(std::endian::native == std::endian::little,
              "binary_codec writes fixed-width values in host order");

// Appends encoded values to a string it does not own.
class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}

  void PutByte(uint8_t value) { out_->push_back(static_cast<char>(value)); }

  // Copies the object representation of a trivially copyable value (in host order).
  template <typename T>
  void PutFixed(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    char bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    out_->append(bytes, sizeof(T));
  }

  void PutVarint(uint64_t value) {
    while (value >= 0x80) {
      out_->push_back(static_cast<char>((value & 0x7f) | 0x80));
      value >>= 7;
    }
    out_->push_back(static_cast<char>(value));
  }

  void PutBytes(absl::string_view bytes) { out_->append(bytes.data(), bytes.size()); }

  // A varint length, then the bytes.
  void PutString(absl::string_view s) {
    PutVarint(s.size());
    PutBytes(s);
  }

  // A u32 length, then the bytes.
  void PutString32(absl::string_view s) {
    PutFixed(static_cast<uint32_t>(s.size()));
    PutBytes(s);
  }

  // A varint count, then the floats' raw bytes.
  void PutFloats(const std::vector<float>& values) {
    PutVarint(values.size());
    if (!values.empty()) {
      out_->append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
    }
  }

 private:
  std::string* out_;
};

// Reads bytes front to back; every read checks the bytes left first. Errors are DATA_LOSS,
// prefixed with the context name, and name the field and the byte offset so that corrupt
// input can be found with a hex dump.
class ByteReader {
 public:
  // Neither `bytes` nor `context` is copied: both must outlive the reader.
  ByteReader(absl::string_view bytes, absl::string_view context)
      : bytes_(bytes), context_(context) {}

  size_t remaining() const { return bytes_.size() - pos_; }
  size_t position() const { return pos_; }

  // "<context>: <problem> at byte N of M".
  absl::Status Error(absl::string_view problem) const {
    return absl::DataLossError(
        absl::StrCat(context_, ": ", problem, " at byte ", pos_, " of ", bytes_.size()));
  }

  absl::Status Byte(absl::string_view field, uint8_t* out) { return Fixed(field, out); }

  template <typename T>
  absl::Status Fixed(absl::string_view field, T* out) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (remaining() < sizeof(T)) return Error(absl::StrCat("truncated ", field));
    std::memcpy(out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return absl::OkStatus();
  }

  absl::Status Varint(absl::string_view field, uint64_t* out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (remaining() < 1) return Error(absl::StrCat("truncated ", field));
      const uint8_t byte = static_cast<uint8_t>(bytes_[pos_++]);
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

  // A varint count of elements that take at least `min_bytes` (> 0) each; bounded by what is
  // left, so that a corrupt count cannot make the decoder reserve gigabytes.
  absl::Status Count(absl::string_view field, uint64_t min_bytes, uint64_t* out) {
    if (absl::Status s = Varint(field, out); !s.ok()) return s;
    if (*out > remaining() / min_bytes) {
      return Error(absl::StrCat(field, " ", *out, " exceeds the remaining bytes"));
    }
    return absl::OkStatus();
  }

  // `length` bytes, as a view into the input.
  absl::Status Bytes(absl::string_view field, uint64_t length, absl::string_view* out) {
    if (length > remaining()) return Error(absl::StrCat("truncated ", field));
    *out = bytes_.substr(pos_, static_cast<size_t>(length));
    pos_ += static_cast<size_t>(length);
    return absl::OkStatus();
  }

  // A varint length, then the bytes (see ByteWriter::PutString).
  absl::Status String(absl::string_view field, std::string* out) {
    uint64_t length = 0;
    if (absl::Status s = Varint(field, &length); !s.ok()) return s;
    if (length > remaining()) {
      return Error(absl::StrCat(field, " length ", length, " exceeds the remaining bytes"));
    }
    out->assign(bytes_.data() + pos_, static_cast<size_t>(length));
    pos_ += static_cast<size_t>(length);
    return absl::OkStatus();
  }

  // A u32 length, then the bytes (see ByteWriter::PutString32).
  absl::Status String32(absl::string_view field, std::string* out) {
    uint32_t length = 0;
    absl::string_view bytes;
    if (absl::Status s = Fixed(field, &length); !s.ok()) return s;
    if (absl::Status s = Bytes(field, length, &bytes); !s.ok()) return s;
    out->assign(bytes.data(), bytes.size());
    return absl::OkStatus();
  }

  // A varint count, then the floats' raw bytes (see ByteWriter::PutFloats).
  absl::Status Floats(absl::string_view field, std::vector<float>* out) {
    uint64_t dim = 0;
    if (absl::Status s = Varint(field, &dim); !s.ok()) return s;
    if (dim > remaining() / sizeof(float)) {
      return Error(absl::StrCat(field, " dimension ", dim, " exceeds the remaining bytes"));
    }
    out->resize(static_cast<size_t>(dim));
    if (dim == 0) return absl::OkStatus();  // memcpy to an empty vector's null data() is UB
    std::memcpy(out->data(), bytes_.data() + pos_, static_cast<size_t>(dim) * sizeof(float));
    pos_ += static_cast<size_t>(dim) * sizeof(float);
    return absl::OkStatus();
  }

 private:
  absl::string_view bytes_;
  absl::string_view context_;
  size_t pos_ = 0;
};

}  // namespace quarry::binary_codec

#endif  // QUARRY_INDEX_STORE_BINARY_CODEC_H_
