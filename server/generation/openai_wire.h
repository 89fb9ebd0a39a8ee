// The OpenAI chat-completions wire format: request bodies, streamed chunks, whole responses
// and error bodies, as JSON. Written to accept what real servers send (OpenAI, vLLM, llama.cpp
// server, Ollama, LiteLLM): unknown fields are ignored, the first chunk may or may not carry a
// role delta, usage may come on the last content chunk or in a chunk with no choices, and null
// stands in for absent fields. Never throws.
#ifndef QUARRY_SERVER_GENERATION_OPENAI_WIRE_H_
#define QUARRY_SERVER_GENERATION_OPENAI_WIRE_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/generation/chat.h"

namespace quarry::generation {

// The request body. With `stream`, also asks for usage in the stream
// (stream_options.include_usage), which servers that predate it ignore.
std::string ChatRequestToJson(const ChatRequest& request, bool stream);

// One "data:" payload of a stream (other than "[DONE]").
struct StreamChunk {
  std::string content;                       // text added by this chunk (may be empty)
  std::optional<std::string> finish_reason;  // set on the last content chunk
  std::optional<TokenUsage> usage;
  std::string model;
};

// INTERNAL if the payload is not a JSON object; UNAVAILABLE with the upstream message if it is
// an error object (some servers report failures mid-stream that way).
absl::StatusOr<StreamChunk> ParseStreamChunk(std::string_view data);

// A non-streamed response body.
absl::StatusOr<ChatCompletion> ParseChatCompletion(std::string_view body);

}  // namespace quarry::generation

#endif  // QUARRY_SERVER_GENERATION_OPENAI_WIRE_H_
