// Incremental parser for server-sent events (the text/event-stream format of the HTML spec),
// as OpenAI-compatible servers stream chat completions. Bytes arrive in arbitrary pieces; each
// complete event's data (its "data:" lines joined by "\n") is handed to a callback. Comment
// lines (": keep-alive"), and the event, id and retry fields are skipped; lines may end in
// "\n", "\r\n" or "\r".
#ifndef QUARRY_SERVER_GENERATION_SSE_PARSER_H_
#define QUARRY_SERVER_GENERATION_SSE_PARSER_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace quarry::generation {

class SseParser {
 public:
  // Receives an event's data; returns false to stop parsing (Feed then returns false too).
  using EventCallback = std::function<bool(std::string_view data)>;

  explicit SseParser(EventCallback on_event) : on_event_(std::move(on_event)) {}

  // Parses `bytes`; false if the callback asked to stop.
  bool Feed(std::string_view bytes);
  // At the end of the stream: dispatches an event left without its closing blank line (some
  // servers omit it). False if the callback asked to stop.
  bool Finish();

 private:
  bool ProcessLine(std::string_view line);
  bool Dispatch();

  EventCallback on_event_;
  std::string line_;  // the unfinished line
  std::string data_;  // the data of the event being read
  bool has_data_ = false;
  bool skip_newline_ = false;  // the last byte was '\r': a '\n' right after it is the same break
};

}  // namespace quarry::generation

#endif  // QUARRY_SERVER_GENERATION_SSE_PARSER_H_
