#include "index/text/utf8.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace quarry::text {
namespace {

constexpr uint64_t kHighBits = 0x8080808080808080ULL;

bool IsContinuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

}  // namespace

bool IsValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  while (p < end) {
    // Most text is ASCII: skip it a word at a time.
    if (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, sizeof(word));
      if ((word & kHighBits) == 0) {
        p += 8;
        continue;
      }
    }
    const unsigned char lead = *p;
    if (lead < 0x80) {
      ++p;
      continue;
    }
    // 0x80..0xBF cannot lead; 0xC0 and 0xC1 could only start overlong 2-byte forms.
    if (lead < 0xC2) return false;
    if (lead < 0xE0) {
      if (end - p < 2 || !IsContinuation(p[1])) return false;
      p += 2;
      continue;
    }
    if (lead < 0xF0) {
      if (end - p < 3 || !IsContinuation(p[1]) || !IsContinuation(p[2])) return false;
      if (lead == 0xE0 && p[1] < 0xA0) return false;   // overlong (< U+0800)
      if (lead == 0xED && p[1] >= 0xA0) return false;  // UTF-16 surrogates
      p += 3;
      continue;
    }
    // 0xF5..0xFF would encode beyond U+10FFFF.
    if (lead < 0xF5) {
      if (end - p < 4 || !IsContinuation(p[1]) || !IsContinuation(p[2]) || !IsContinuation(p[3])) {
        return false;
      }
      if (lead == 0xF0 && p[1] < 0x90) return false;   // overlong (< U+10000)
      if (lead == 0xF4 && p[1] >= 0x90) return false;  // > U+10FFFF
      p += 4;
      continue;
    }
    return false;
  }
  return true;
}

char32_t DecodeUtf8(std::string_view text, size_t* position) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data()) + *position;
  const unsigned char lead = p[0];
  if (lead < 0x80) {
    *position += 1;
    return lead;
  }
  if (lead < 0xE0) {
    *position += 2;
    return (static_cast<char32_t>(lead & 0x1Fu) << 6) | (p[1] & 0x3Fu);
  }
  if (lead < 0xF0) {
    *position += 3;
    return (static_cast<char32_t>(lead & 0x0Fu) << 12) |
           (static_cast<char32_t>(p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
  }
  *position += 4;
  return (static_cast<char32_t>(lead & 0x07u) << 18) | (static_cast<char32_t>(p[1] & 0x3Fu) << 12) |
         (static_cast<char32_t>(p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
}

}  // namespace quarry::text
