#include "server/generation/citations.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace quarry::generation {
namespace {

// Ranges longer than this are not citations ("[1-2000]" is more likely a quoted interval).
constexpr int kMaxRange = 20;
// Longer digit runs are not source numbers (and would overflow).
constexpr size_t kMaxDigits = 4;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Parses the marker opening at answer[open] == '['. Returns the numbers it names (possibly out
// of range) and sets *close to the index of its ']', or returns empty if it is not a marker.
std::vector<int> ParseMarker(std::string_view answer, size_t open, size_t* close) {
  size_t i = open + 1;
  auto skip_spaces = [&] {
    while (i < answer.size() && answer[i] == ' ') ++i;
  };
  skip_spaces();
  for (std::string_view prefix : {"Source", "source", "SOURCE"}) {
    if (answer.substr(i, prefix.size()) == prefix) {
      i += prefix.size();
      if (i < answer.size() && answer[i] == 's') ++i;  // "[Sources 1, 2]"
      skip_spaces();
      break;
    }
  }
  std::vector<int> numbers;
  auto read_number = [&](int* value) {
    const size_t start = i;
    int parsed = 0;
    while (i < answer.size() && IsDigit(answer[i]) && i - start < kMaxDigits) {
      parsed = parsed * 10 + (answer[i] - '0');
      ++i;
    }
    if (i == start || (i < answer.size() && IsDigit(answer[i]))) return false;
    *value = parsed;
    return true;
  };
  while (true) {
    int first = 0;
    if (!read_number(&first)) return {};
    int last = first;
    skip_spaces();
    size_t dash = 0;
    if (i < answer.size() && answer[i] == '-') dash = 1;
    if (answer.substr(i, 3) == "\u2013") dash = 3;  // en dash
    if (dash > 0) {
      i += dash;
      skip_spaces();
      if (!read_number(&last) || last < first || last - first > kMaxRange) return {};
      skip_spaces();
    }
    for (int number = first; number <= last; ++number) numbers.push_back(number);
    if (i >= answer.size()) return {};
    if (answer[i] == ']') {
      *close = i;
      return numbers;
    }
    if (answer[i] != ',' && answer[i] != ';') return {};
    ++i;
    skip_spaces();
  }
}

}  // namespace

std::vector<Citation> ExtractCitations(std::string_view answer, std::span<const Source> sources) {
  std::vector<Citation> citations;
  for (size_t open = answer.find('['); open != std::string_view::npos;
       open = answer.find('[', open + 1)) {
    size_t close = 0;
    const std::vector<int> numbers = ParseMarker(answer, open, &close);
    const size_t first_citation = citations.size();
    for (int number : numbers) {
      auto source = std::find_if(sources.begin(), sources.end(),
                                 [number](const Source& s) { return s.number == number; });
      if (source == sources.end()) continue;
      const bool repeated = std::any_of(
          citations.begin() + static_cast<std::ptrdiff_t>(first_citation), citations.end(),
          [number](const Citation& c) { return c.source_number == number; });
      if (repeated) continue;
      citations.push_back(Citation{.source_number = number,
                                   .chunk_id = source->chunk_id,
                                   .start = static_cast<uint32_t>(open),
                                   .end = static_cast<uint32_t>(close + 1)});
    }
    if (!numbers.empty()) open = close;
  }
  return citations;
}

}  // namespace quarry::generation
