// Chat messages as OpenAI-compatible chat APIs take them. The prompt builder produces them and
// the LLM client sends them; nothing here knows about HTTP or protobuf.
#ifndef QUARRY_SERVER_GENERATION_CHAT_H_
#define QUARRY_SERVER_GENERATION_CHAT_H_

#include <optional>
#include <string>
#include <vector>

namespace quarry::generation {

inline constexpr char kSystemRole[] = "system";
inline constexpr char kUserRole[] = "user";
inline constexpr char kAssistantRole[] = "assistant";

struct ChatMessage {
  std::string role;  // kSystemRole, kUserRole or kAssistantRole
  std::string content;

  friend bool operator==(const ChatMessage&, const ChatMessage&) = default;
};

struct ChatRequest {
  std::string model;
  std::vector<ChatMessage> messages;
  std::optional<float> temperature;  // unset: the server's default
  int max_tokens = 0;                // 0: not sent
  std::vector<std::string> stop;
};

struct TokenUsage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int total_tokens = 0;

  friend bool operator==(const TokenUsage&, const TokenUsage&) = default;
};

// A finished completion.
struct ChatCompletion {
  std::string text;
  std::string finish_reason;        // "stop", "length", "content_filter"...; empty if none was sent
  std::optional<TokenUsage> usage;  // absent when the server reported none
  std::string model;                // as the server named it; the requested one if it did not
};

}  // namespace quarry::generation

#endif  // QUARRY_SERVER_GENERATION_CHAT_H_
