#include "server/generation/sentence_splitter.h"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "index/text/tokenizer.h"

namespace quarry::generation {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiLetter(char c) { return IsLower(c) || IsUpper(c); }

bool HasPrefixAt(std::string_view text, size_t at, std::string_view prefix) {
  return text.substr(at, prefix.size()) == prefix;
}

// Sentence-final marks: returns the byte length of the mark at `at` (0 if none); `cjk` says
// whether it is an ideographic mark, which needs no space after it.
size_t TerminatorLength(std::string_view text, size_t at, bool* cjk) {
  *cjk = false;
  if (at >= text.size()) return 0;
  const char c = text[at];
  if (c == '.' || c == '!' || c == '?') return 1;
  if (HasPrefixAt(text, at, "\u2026")) return 3;                  // …
  for (std::string_view mark : {"\u3002", "\uFF01", "\uFF1F"}) {  // 。！？
    if (HasPrefixAt(text, at, mark)) {
      *cjk = true;
      return mark.size();
    }
  }
  return 0;
}

// Closing quotes and brackets that stay with the sentence they end: `He said "no." Then`.
size_t CloserLength(std::string_view text, size_t at) {
  if (at >= text.size()) return 0;
  const char c = text[at];
  if (c == '"' || c == '\'' || c == ')' || c == ']' || c == '}') return 1;
  for (std::string_view closer : {"\u201D", "\u2019", "\u00BB", "\u300D", "\u300F", "\uFF09"}) {
    if (HasPrefixAt(text, at, closer)) return closer.size();
  }
  return 0;
}

// Words whose period does not end a sentence when followed by a capital ("Dr. Smith").
// "etc." is left out on purpose: before a capital it usually does end one.
constexpr std::array<std::string_view, 26> kAbbreviations = {
    "mr",   "mrs", "ms",  "dr",  "prof",   "sr", "jr", "st", "vs",  "e.g", "i.e",  "al",   "fig",
    "figs", "no",  "nos", "vol", "approx", "ca", "cf", "eq", "eqs", "ref", "refs", "resp", "dept"};

// True if the period at `period` follows an abbreviation or a single initial ("J. Smith",
// "U.S. Army").
bool FollowsAbbreviation(std::string_view text, size_t period) {
  size_t begin = period;
  while (begin > 0 && (IsAsciiLetter(text[begin - 1]) || text[begin - 1] == '.')) --begin;
  if (begin > 0 && !IsSpace(text[begin - 1]) && text[begin - 1] != '(' && text[begin - 1] != '"') {
    return false;
  }
  std::string word(text.substr(begin, period - begin));
  if (word.empty()) return false;
  for (char& c : word) {
    if (IsUpper(c)) c = static_cast<char>(c - 'A' + 'a');
  }
  // Initials, alone or dotted: "J", "U.S".
  bool initials = true;
  for (size_t i = 0; i < word.size(); ++i) {
    const bool letter_slot = i % 2 == 0;
    if (letter_slot != IsAsciiLetter(word[i])) initials = false;
  }
  if (initials) return true;
  for (std::string_view abbreviation : kAbbreviations) {
    if (word == abbreviation) return true;
  }
  return false;
}

// A line that starts a list item or a markdown heading.
bool StartsBlock(std::string_view text, size_t at) {
  if (at >= text.size()) return false;
  const char c = text[at];
  if (c == '#') return true;
  if ((c == '-' || c == '*' || c == '+') && at + 1 < text.size() && text[at + 1] == ' ') {
    return true;
  }
  if (HasPrefixAt(text, at, "\u2022")) return true;  // •
  size_t i = at;
  while (i < text.size() && IsDigit(text[i])) ++i;
  return i > at && i + 1 < text.size() && (text[i] == '.' || text[i] == ')') && text[i + 1] == ' ';
}

// Lines up to this long that lack final punctuation and are followed by a capitalised line
// read as headings or labels; longer ones are more likely hard-wrapped prose.
constexpr size_t kMaxHeadingBytes = 60;

// True if the line [line_start, line_end) reads as a heading: a markdown heading, or a short
// line with text but no closing punctuation.
bool IsHeadingLine(std::string_view text, size_t line_start, size_t line_end) {
  while (line_start < line_end && IsSpace(text[line_start])) ++line_start;
  while (line_end > line_start && IsSpace(text[line_end - 1])) --line_end;
  if (line_end == line_start) return false;
  if (text[line_start] == '#') return true;
  const char last = text[line_end - 1];
  return line_end - line_start <= kMaxHeadingBytes && last != '.' && last != '!' && last != '?' &&
         last != ':' && last != ';' && last != ',' && last != '-';
}

class Splitter {
 public:
  explicit Splitter(std::string_view text) : text_(text) {}

  std::vector<SentenceSpan> Split() {
    const size_t n = text_.size();
    size_t line_start = 0;
    size_t i = 0;
    while (i < n) {
      const char c = text_[i];
      if (c == '\n') {
        size_t j = i + 1;
        int newlines = 1;
        while (j < n && IsSpace(text_[j])) {
          if (text_[j] == '\n') ++newlines;
          ++j;
        }
        const bool heading_line =
            IsHeadingLine(text_, line_start, i) && j < n &&
            (IsUpper(text_[j]) || IsDigit(text_[j]) || text_[line_start] == '#');
        if (newlines >= 2 || StartsBlock(text_, j) || heading_line) Emit(i);
        line_start = j;
        i = j;
        continue;
      }
      bool cjk = false;
      const size_t length = TerminatorLength(text_, i, &cjk);
      if (length == 0) {
        ++i;
        continue;
      }
      size_t k = i + length;
      const bool single_period = c == '.' && !HasPrefixAt(text_, k, ".");
      bool more_cjk = false;
      while (size_t more = TerminatorLength(text_, k, &more_cjk)) k += more;  // "?!", "..."
      while (size_t closer = CloserLength(text_, k)) k += closer;
      if (cjk) {
        Emit(k);
        i = k;
        continue;
      }
      if (k >= n || !IsSpace(text_[k])) {  // "3.5", "example.com", or the end of the text
        i = k;
        continue;
      }
      size_t next = k;
      while (next < n && IsSpace(text_[next])) ++next;
      const bool continues = next < n && IsLower(text_[next]);
      if (!continues && !(single_period && FollowsAbbreviation(text_, i))) Emit(k);
      i = k;
    }
    Emit(n);
    return std::move(spans_);
  }

 private:
  // Closes the sentence that runs from the end of the previous one to `end`.
  void Emit(size_t end) {
    size_t start = begin_;
    begin_ = end;
    size_t stop = end;
    while (start < stop && IsSpace(text_[start])) ++start;
    while (stop > start && IsSpace(text_[stop - 1])) --stop;
    if (start == stop) return;
    bool has_word = false;
    for (const text::Token& token : text::Tokenize(text_.substr(start, stop - start))) {
      if (token.is_word) {
        has_word = true;
        break;
      }
    }
    if (has_word) {
      spans_.push_back({static_cast<uint32_t>(start), static_cast<uint32_t>(stop)});
    }
  }

  std::string_view text_;
  size_t begin_ = 0;
  std::vector<SentenceSpan> spans_;
};

}  // namespace

std::vector<SentenceSpan> SplitSentences(std::string_view text) { return Splitter(text).Split(); }

}  // namespace quarry::generation
