#include "index/text/tokenizer.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "index/text/utf8.h"

namespace quarry::text {
namespace {

enum class CharClass : uint8_t {
  kSpace,      // separates tokens, produces none (also controls and invisible marks)
  kWord,       // letters, digits, marks of any script: runs of these form a word
  kPunct,      // each one is a token of its own (punctuation, symbols, emoji)
  kExtend,     // joiners, combining and variation marks: part of a word they follow, else ignored
  kIdeograph,  // Han and Hiragana are written without spaces: each character is a word
};

// Long runs without a break (base64 blobs, URLs with no punctuation, Thai) are cut into pieces
// of at most this many bytes so that no token, and hence no chunk, grows without bound.
constexpr size_t kMaxWordBytes = 128;

constexpr std::array<CharClass, 128> MakeAsciiClasses() {
  std::array<CharClass, 128> classes{};
  for (int c = 0; c < 128; ++c) {
    if (c <= 0x20 || c == 0x7F) {
      classes[c] = CharClass::kSpace;
    } else if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      classes[c] = CharClass::kWord;
    } else {
      classes[c] = CharClass::kPunct;
    }
  }
  return classes;
}
constexpr std::array<CharClass, 128> kAsciiClasses = MakeAsciiClasses();

struct Range {
  char32_t first;
  char32_t last;
  CharClass char_class;
};

// Code points above U+00FF that are not word characters, sorted and disjoint. Anything not
// listed is a word character. Not the full Unicode tables: the common punctuation, space,
// symbol and emoji blocks, which is what decides token boundaries in practice.
constexpr Range kRanges[] = {
    {0x0300, 0x036F, CharClass::kExtend},  // combining diacritical marks
    {0x037E, 0x037E, CharClass::kPunct},   // Greek question mark
    {0x0387, 0x0387, CharClass::kPunct},   // Greek ano teleia
    {0x055A, 0x055F, CharClass::kPunct},   // Armenian
    {0x0589, 0x058A, CharClass::kPunct},
    {0x05BE, 0x05BE, CharClass::kPunct},  // Hebrew
    {0x05C0, 0x05C0, CharClass::kPunct},
    {0x05C3, 0x05C3, CharClass::kPunct},
    {0x05C6, 0x05C6, CharClass::kPunct},
    {0x05F3, 0x05F4, CharClass::kPunct},
    {0x0600, 0x0605, CharClass::kSpace},  // Arabic
    {0x0606, 0x060F, CharClass::kPunct},
    {0x061B, 0x061B, CharClass::kPunct},
    {0x061D, 0x061F, CharClass::kPunct},
    {0x066A, 0x066D, CharClass::kPunct},
    {0x06D4, 0x06D4, CharClass::kPunct},
    {0x0964, 0x0965, CharClass::kPunct},  // Devanagari danda
    {0x0970, 0x0970, CharClass::kPunct},
    {0x0E3F, 0x0E3F, CharClass::kPunct},  // Thai
    {0x0E4F, 0x0E4F, CharClass::kPunct},
    {0x0E5A, 0x0E5B, CharClass::kPunct},
    {0x10FB, 0x10FB, CharClass::kPunct},  // Georgian
    {0x1360, 0x1368, CharClass::kPunct},  // Ethiopic
    {0x1680, 0x1680, CharClass::kSpace},  // Ogham space
    {0x169B, 0x169C, CharClass::kPunct},
    {0x16EB, 0x16ED, CharClass::kPunct},  // Runic
    {0x17D4, 0x17D6, CharClass::kPunct},  // Khmer
    {0x17D8, 0x17DB, CharClass::kPunct},
    {0x1800, 0x180A, CharClass::kPunct},  // Mongolian
    {0x180B, 0x180D, CharClass::kExtend},
    {0x180E, 0x180E, CharClass::kSpace},
    {0x1AB0, 0x1AFF, CharClass::kExtend},  // combining marks
    {0x1DC0, 0x1DFF, CharClass::kExtend},
    {0x2000, 0x200B, CharClass::kSpace},   // spaces, zero-width space
    {0x200C, 0x200D, CharClass::kExtend},  // zero-width (non-)joiner
    {0x200E, 0x200F, CharClass::kSpace},   // direction marks
    {0x2010, 0x2027, CharClass::kPunct},   // dashes, quotes, bullets, ellipsis
    {0x2028, 0x202F, CharClass::kSpace},   // line/paragraph separators, embeddings, NNBSP
    {0x2030, 0x205E, CharClass::kPunct},
    {0x205F, 0x205F, CharClass::kSpace},
    {0x2060, 0x2064, CharClass::kExtend},  // word joiner, invisible operators
    {0x2065, 0x206F, CharClass::kSpace},
    {0x20A0, 0x20CF, CharClass::kPunct},      // currency
    {0x20D0, 0x20FF, CharClass::kExtend},     // combining marks for symbols
    {0x2190, 0x245F, CharClass::kPunct},      // arrows, math, technical, control pictures
    {0x2500, 0x2BFF, CharClass::kPunct},      // box drawing, shapes, dingbats, math, arrows
    {0x2CF9, 0x2CFF, CharClass::kPunct},      // Coptic
    {0x2E00, 0x2E7F, CharClass::kPunct},      // supplemental punctuation
    {0x2E80, 0x2FDF, CharClass::kIdeograph},  // CJK and Kangxi radicals
    {0x2FF0, 0x2FFF, CharClass::kPunct},
    {0x3000, 0x3000, CharClass::kSpace},  // ideographic space
    {0x3001, 0x3004, CharClass::kPunct},  // CJK punctuation
    {0x3005, 0x3007, CharClass::kIdeograph},
    {0x3008, 0x3020, CharClass::kPunct},
    {0x3021, 0x3029, CharClass::kIdeograph},
    {0x302A, 0x302F, CharClass::kExtend},
    {0x3030, 0x3030, CharClass::kPunct},
    {0x3036, 0x3037, CharClass::kPunct},
    {0x3038, 0x303B, CharClass::kIdeograph},
    {0x303C, 0x303F, CharClass::kPunct},
    {0x3040, 0x3098, CharClass::kIdeograph},  // Hiragana
    {0x3099, 0x309A, CharClass::kExtend},     // kana voicing marks
    {0x309B, 0x309F, CharClass::kIdeograph},
    {0x30A0, 0x30A0, CharClass::kPunct},
    {0x30FB, 0x30FB, CharClass::kPunct},  // Katakana middle dot
    {0x31C0, 0x31EF, CharClass::kIdeograph},
    {0x3400, 0x4DBF, CharClass::kIdeograph},  // CJK extension A
    {0x4DC0, 0x4DFF, CharClass::kPunct},      // hexagrams
    {0x4E00, 0x9FFF, CharClass::kIdeograph},  // CJK unified ideographs
    {0xA4FE, 0xA4FF, CharClass::kPunct},
    {0xA60D, 0xA60F, CharClass::kPunct},
    {0xA673, 0xA673, CharClass::kPunct},
    {0xA67E, 0xA67E, CharClass::kPunct},
    {0xE000, 0xF8FF, CharClass::kPunct},      // private use (symbol fonts)
    {0xF900, 0xFAFF, CharClass::kIdeograph},  // CJK compatibility ideographs
    {0xFD3E, 0xFD3F, CharClass::kPunct},
    {0xFE00, 0xFE0F, CharClass::kExtend},  // variation selectors
    {0xFE10, 0xFE19, CharClass::kPunct},
    {0xFE20, 0xFE2F, CharClass::kExtend},
    {0xFE30, 0xFE6F, CharClass::kPunct},  // CJK compatibility and small forms
    {0xFEFF, 0xFEFF, CharClass::kSpace},  // byte order mark
    {0xFF01, 0xFF0F, CharClass::kPunct},  // fullwidth forms
    {0xFF1A, 0xFF20, CharClass::kPunct},
    {0xFF3B, 0xFF40, CharClass::kPunct},
    {0xFF5B, 0xFF65, CharClass::kPunct},
    {0xFFE0, 0xFFFF, CharClass::kPunct},     // fullwidth symbols, specials
    {0x1D000, 0x1D24F, CharClass::kPunct},   // musical symbols
    {0x1F000, 0x1F3FA, CharClass::kPunct},   // game symbols, enclosed, emoji
    {0x1F3FB, 0x1F3FF, CharClass::kExtend},  // skin-tone modifiers
    {0x1F400, 0x1FAFF, CharClass::kPunct},
    {0x20000, 0x3FFFF, CharClass::kIdeograph},  // CJK extensions B and later
    {0xE0000, 0xE007F, CharClass::kExtend},     // tags
    {0xE0100, 0xE01EF, CharClass::kExtend},     // variation selectors supplement
    {0xF0000, 0x10FFFF, CharClass::kPunct},     // private use
};

constexpr bool RangesSortedAndDisjoint() {
  for (size_t i = 0; i < std::size(kRanges); ++i) {
    if (kRanges[i].first > kRanges[i].last) return false;
    if (i > 0 && kRanges[i - 1].last >= kRanges[i].first) return false;
  }
  return true;
}
static_assert(RangesSortedAndDisjoint());

CharClass ClassifyNonAscii(char32_t c) {
  if (c < 0x100) {
    if (c <= 0xA0) return CharClass::kSpace;   // C1 controls (NEL among them), NBSP
    if (c == 0xAD) return CharClass::kExtend;  // soft hyphen: invisible, inside words
    if (c < 0xC0) {
      // Latin-1 punctuation and symbols, except the ordinal indicators and micro sign.
      return (c == 0xAA || c == 0xB5 || c == 0xBA) ? CharClass::kWord : CharClass::kPunct;
    }
    return (c == 0xD7 || c == 0xF7) ? CharClass::kPunct : CharClass::kWord;
  }
  const Range* it = std::upper_bound(std::begin(kRanges), std::end(kRanges), c,
                                     [](char32_t v, const Range& r) { return v < r.first; });
  if (it == std::begin(kRanges)) return CharClass::kWord;
  --it;
  return c <= it->last ? it->char_class : CharClass::kWord;
}

CharClass Classify(std::string_view text, size_t* position, char32_t* code_point) {
  const unsigned char byte = static_cast<unsigned char>(text[*position]);
  if (byte < 0x80) {
    ++*position;
    *code_point = byte;
    return kAsciiClasses[byte];
  }
  *code_point = DecodeUtf8(text, position);
  return ClassifyNonAscii(*code_point);
}

bool IsApostrophe(char32_t c) { return c == '\'' || c == 0x2019; }

}  // namespace

std::vector<Token> Tokenize(std::string_view text) {
  std::vector<Token> tokens;
  tokens.reserve(text.size() / 5 + 1);
  bool in_word = false;
  size_t word_start = 0;
  size_t i = 0;
  auto end_word = [&](size_t at) {
    if (in_word) {
      tokens.push_back({static_cast<uint32_t>(word_start), static_cast<uint32_t>(at), true});
      in_word = false;
    }
  };
  while (i < text.size()) {
    const size_t start = i;
    char32_t c;
    CharClass char_class = Classify(text, &i, &c);
    // An apostrophe between two word characters keeps "don't" and "o'clock" whole (the
    // stemmer then strips possessive "'s"); elsewhere it is a quote mark.
    if (in_word && IsApostrophe(c) && i < text.size()) {
      size_t next = i;
      char32_t next_c;
      if (Classify(text, &next, &next_c) == CharClass::kWord) char_class = CharClass::kWord;
    }
    switch (char_class) {
      case CharClass::kWord:
        if (!in_word) {
          in_word = true;
          word_start = start;
        } else if (i - word_start > kMaxWordBytes) {
          end_word(start);
          in_word = true;
          word_start = start;
        }
        break;
      case CharClass::kExtend:
        // Ignored outside a word; inside one it extends it, within the same length bound.
        if (in_word && i - word_start > kMaxWordBytes) end_word(start);
        break;
      case CharClass::kSpace:
        end_word(start);
        break;
      case CharClass::kPunct:
        end_word(start);
        tokens.push_back({static_cast<uint32_t>(start), static_cast<uint32_t>(i), false});
        break;
      case CharClass::kIdeograph:
        end_word(start);
        tokens.push_back({static_cast<uint32_t>(start), static_cast<uint32_t>(i), true});
        break;
    }
  }
  end_word(text.size());
  return tokens;
}

}  // namespace quarry::text
