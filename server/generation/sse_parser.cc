#include "server/generation/sse_parser.h"

#include <string_view>

namespace quarry::generation {

bool SseParser::Feed(std::string_view bytes) {
  for (const char c : bytes) {
    if (skip_newline_ && c == '\n') {  // the second half of "\r\n", maybe in a later Feed
      skip_newline_ = false;
      continue;
    }
    skip_newline_ = false;
    if (c != '\r' && c != '\n') {
      line_.push_back(c);
      continue;
    }
    skip_newline_ = c == '\r';
    const bool keep_going = ProcessLine(line_);
    line_.clear();
    if (!keep_going) return false;
  }
  return true;
}

bool SseParser::Finish() {
  if (!line_.empty()) {
    const bool keep_going = ProcessLine(line_);
    line_.clear();
    if (!keep_going) return false;
  }
  return Dispatch();
}

bool SseParser::ProcessLine(std::string_view line) {
  if (line.empty()) return Dispatch();
  if (line.front() == ':') return true;  // a comment, e.g. ": keep-alive"
  const size_t colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  }
  return true;
}

bool SseParser::Dispatch() {
  if (!has_data_) return true;
  has_data_ = false;
  const std::string data = std::move(data_);
  data_.clear();
  return on_event_(data);
}

}  // namespace quarry::generation
