#include "index/text/utf8.h"

#include <catch2/catch.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace quarry::text {
namespace {

std::string Bytes(std::initializer_list<unsigned> bytes) {
  std::string out;
  for (unsigned b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

std::string Encode(char32_t c) {
  std::string out;
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
  return out;
}

// Definitional reference: a byte string is valid iff it splits into shortest-form encodings of
// scalar values. Slow, but obviously right.
bool ReferenceValid(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    bool matched = false;
    for (size_t length = 1; length <= 4 && i + length <= s.size() && !matched; ++length) {
      const std::string_view piece = s.substr(i, length);
      const auto lead = static_cast<unsigned char>(piece[0]);
      char32_t c = 0;
      if (length == 1) {
        c = lead;
      } else {
        c = lead & (0x7F >> length);
        for (size_t k = 1; k < length; ++k) c = (c << 6) | (piece[k] & 0x3F);
      }
      if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) continue;
      if (Encode(c) == piece) {
        matched = true;
        i += length;
      }
    }
    if (!matched) return false;
  }
  return true;
}

TEST_CASE("IsValidUtf8 accepts well-formed text", "[utf8]") {
  CHECK(IsValidUtf8(""));
  CHECK(IsValidUtf8("plain ASCII text that is longer than one 8-byte word"));
  CHECK(IsValidUtf8(std::string_view("nul\0inside", 10)));
  CHECK(IsValidUtf8("caf\u00E9 \u20AC \U0001F600 \u4E2D\u6587"));
  // Boundaries of each encoding length.
  CHECK(IsValidUtf8(Bytes({0x7F})));
  CHECK(IsValidUtf8(Bytes({0xC2, 0x80})));              // U+0080
  CHECK(IsValidUtf8(Bytes({0xDF, 0xBF})));              // U+07FF
  CHECK(IsValidUtf8(Bytes({0xE0, 0xA0, 0x80})));        // U+0800
  CHECK(IsValidUtf8(Bytes({0xED, 0x9F, 0xBF})));        // U+D7FF, just below surrogates
  CHECK(IsValidUtf8(Bytes({0xEE, 0x80, 0x80})));        // U+E000, just above
  CHECK(IsValidUtf8(Bytes({0xEF, 0xBF, 0xBF})));        // U+FFFF
  CHECK(IsValidUtf8(Bytes({0xF0, 0x90, 0x80, 0x80})));  // U+10000
  CHECK(IsValidUtf8(Bytes({0xF4, 0x8F, 0xBF, 0xBF})));  // U+10FFFF
}

TEST_CASE("IsValidUtf8 rejects overlong forms", "[utf8]") {
  CHECK_FALSE(IsValidUtf8(Bytes({0xC0, 0x80})));                 // NUL in two bytes
  CHECK_FALSE(IsValidUtf8(Bytes({0xC1, 0xBF})));                 // U+007F in two bytes
  CHECK_FALSE(IsValidUtf8(Bytes({0xE0, 0x80, 0x80})));           // NUL in three bytes
  CHECK_FALSE(IsValidUtf8(Bytes({0xE0, 0x9F, 0xBF})));           // U+07FF in three bytes
  CHECK_FALSE(IsValidUtf8(Bytes({0xF0, 0x80, 0x80, 0x80})));     // NUL in four bytes
  CHECK_FALSE(IsValidUtf8(Bytes({0xF0, 0x8F, 0xBF, 0xBF})));     // U+FFFF in four bytes
  CHECK_FALSE(IsValidUtf8("a/" + Bytes({0xC0, 0xAF}) + "etc"));  // the classic "/" attack
}

TEST_CASE("IsValidUtf8 rejects surrogates and out-of-range code points", "[utf8]") {
  CHECK_FALSE(IsValidUtf8(Bytes({0xED, 0xA0, 0x80})));                    // U+D800
  CHECK_FALSE(IsValidUtf8(Bytes({0xED, 0xBF, 0xBF})));                    // U+DFFF
  CHECK_FALSE(IsValidUtf8(Bytes({0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80})));  // CESU-8 pair
  CHECK_FALSE(IsValidUtf8(Bytes({0xF4, 0x90, 0x80, 0x80})));              // U+110000
  CHECK_FALSE(IsValidUtf8(Bytes({0xF5, 0x80, 0x80, 0x80})));
  CHECK_FALSE(IsValidUtf8(Bytes({0xF8, 0x88, 0x80, 0x80, 0x80})));
  CHECK_FALSE(IsValidUtf8(Bytes({0xFE})));
  CHECK_FALSE(IsValidUtf8(Bytes({0xFF})));
}

TEST_CASE("IsValidUtf8 rejects truncated and stray bytes", "[utf8]") {
  CHECK_FALSE(IsValidUtf8(Bytes({0x80})));  // lone continuation
  CHECK_FALSE(IsValidUtf8(Bytes({0xBF})));
  CHECK_FALSE(IsValidUtf8(Bytes({0xC3})));              // truncated 2-byte
  CHECK_FALSE(IsValidUtf8(Bytes({0xE2, 0x82})));        // truncated 3-byte
  CHECK_FALSE(IsValidUtf8(Bytes({0xF0, 0x9F, 0x98})));  // truncated 4-byte
  CHECK_FALSE(IsValidUtf8(Bytes({0xC3, 0x28})));        // continuation replaced by ASCII
  CHECK_FALSE(IsValidUtf8(Bytes({0xE2, 0x28, 0xA1})));
  CHECK_FALSE(IsValidUtf8(Bytes({0xF0, 0x9F, 0x98, 0x41})));
  // Errors after and inside runs that take the 8-byte ASCII fast path.
  CHECK_FALSE(IsValidUtf8("0123456789abcdef" + Bytes({0xC3})));
  CHECK_FALSE(IsValidUtf8("0123456" + Bytes({0x80}) + "89abcdef"));
  CHECK_FALSE(IsValidUtf8("01234567" + Bytes({0xE2, 0x82}) + "abcdefgh"));
}

TEST_CASE("IsValidUtf8 agrees with a reference on every 1- to 3-byte string", "[utf8]") {
  int mismatches = 0;
  std::string s;
  for (unsigned a = 0; a < 256; ++a) {
    s.assign(1, static_cast<char>(a));
    if (IsValidUtf8(s) != ReferenceValid(s)) ++mismatches;
    for (unsigned b = 0; b < 256; ++b) {
      s.assign({static_cast<char>(a), static_cast<char>(b)});
      if (IsValidUtf8(s) != ReferenceValid(s)) ++mismatches;
    }
  }
  // Three-byte strings whose first byte starts a 3- or 4-byte sequence: where the hard cases
  // (overlongs, surrogates, range) live.
  for (unsigned a = 0xE0; a < 0x100; ++a) {
    for (unsigned b = 0x80; b < 0xC0; ++b) {
      for (unsigned c = 0; c < 256; ++c) {
        s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
        if (IsValidUtf8(s) != ReferenceValid(s)) ++mismatches;
      }
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("DecodeUtf8 decodes each length and advances past it", "[utf8]") {
  const std::string text = "a\u00E9\u20AC\U0001F600";
  size_t position = 0;
  CHECK(DecodeUtf8(text, &position) == U'a');
  CHECK(position == 1);
  CHECK(DecodeUtf8(text, &position) == U'\u00E9');
  CHECK(position == 3);
  CHECK(DecodeUtf8(text, &position) == U'\u20AC');
  CHECK(position == 6);
  CHECK(DecodeUtf8(text, &position) == U'\U0001F600');
  CHECK(position == 10);
}

TEST_CASE("Every scalar value round-trips through encode, validate and decode", "[utf8]") {
  int failures = 0;
  for (char32_t c = 0; c <= 0x10FFFF; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    const std::string encoded = Encode(c);
    size_t position = 0;
    if (!IsValidUtf8(encoded) || DecodeUtf8(encoded, &position) != c ||
        position != encoded.size()) {
      ++failures;
    }
  }
  CHECK(failures == 0);
}

}  // namespace
}  // namespace quarry::text
