#include "server/generation/openai_wire.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "index/remote/http_error.h"
#include "nlohmann/json.hpp"

namespace quarry::generation {
namespace {

using Json = nlohmann::json;

Json Parse(std::string_view text) {
  return Json::parse(text.begin(), text.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
}

// Serialises without throwing: invalid UTF-8 (which validated input never has) is replaced.
std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const Json* Member(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::optional<std::string> StringMember(const Json& object, const char* key) {
  const Json* value = Member(object, key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return value->get<std::string>();
}

int IntMember(const Json& object, const char* key) {
  const Json* value = Member(object, key);
  if (value == nullptr || !value->is_number()) return 0;
  const double number = value->get<double>();
  return number > 0 && number < 2e9 ? static_cast<int>(number) : 0;
}

std::optional<TokenUsage> ParseUsage(const Json& root) {
  const Json* usage = Member(root, "usage");
  if (usage == nullptr || !usage->is_object()) return std::nullopt;
  TokenUsage parsed;
  parsed.prompt_tokens = IntMember(*usage, "prompt_tokens");
  parsed.completion_tokens = IntMember(*usage, "completion_tokens");
  parsed.total_tokens = IntMember(*usage, "total_tokens");
  if (parsed.total_tokens == 0) {
    parsed.total_tokens = parsed.prompt_tokens + parsed.completion_tokens;
  }
  return parsed;
}

// The first choice, or null when there is none (e.g. a usage-only chunk).
const Json* FirstChoice(const Json& root) {
  const Json* choices = Member(root, "choices");
  if (choices == nullptr || !choices->is_array() || choices->empty()) return nullptr;
  const Json& first = (*choices)[0];
  return first.is_object() ? &first : nullptr;
}

bool IsErrorObject(const Json& root) {
  return Member(root, "error") != nullptr || StringMember(root, "object") == "error";
}

}  // namespace

std::string ChatRequestToJson(const ChatRequest& request, bool stream) {
  Json body = Json::object();
  body["model"] = request.model;
  Json messages = Json::array();
  for (const ChatMessage& message : request.messages) {
    messages.push_back(Json{{"role", message.role}, {"content", message.content}});
  }
  body["messages"] = std::move(messages);
  if (request.temperature.has_value()) body["temperature"] = *request.temperature;
  if (request.max_tokens > 0) body["max_tokens"] = request.max_tokens;
  if (!request.stop.empty()) body["stop"] = request.stop;
  body["stream"] = stream;
  if (stream) body["stream_options"] = Json{{"include_usage", true}};
  return Dump(body);
}

absl::StatusOr<StreamChunk> ParseStreamChunk(std::string_view data) {
  const Json root = Parse(data);
  if (!root.is_object()) {
    return absl::InternalError(absl::StrCat("LLM stream sent a chunk that is not a JSON object: ",
                                            remote::QuoteUpstream(data)));
  }
  if (IsErrorObject(root)) {
    return absl::UnavailableError(
        absl::StrCat("LLM stream reported an error: ", remote::UpstreamErrorMessage(data)));
  }
  StreamChunk chunk;
  chunk.model = StringMember(root, "model").value_or("");
  chunk.usage = ParseUsage(root);
  if (const Json* choice = FirstChoice(root)) {
    if (const Json* delta = Member(*choice, "delta")) {
      chunk.content = StringMember(*delta, "content").value_or("");
    } else {
      chunk.content = StringMember(*choice, "text").value_or("");  // completions-style servers
    }
    chunk.finish_reason = StringMember(*choice, "finish_reason");
  }
  return chunk;
}

absl::StatusOr<ChatCompletion> ParseChatCompletion(std::string_view body) {
  const Json root = Parse(body);
  if (!root.is_object()) {
    return absl::InternalError(
        absl::StrCat("LLM response is not a JSON object: ", remote::QuoteUpstream(body)));
  }
  if (IsErrorObject(root)) {
    return absl::UnavailableError(
        absl::StrCat("LLM reported an error: ", remote::UpstreamErrorMessage(body)));
  }
  const Json* choice = FirstChoice(root);
  if (choice == nullptr) {
    return absl::InternalError(
        absl::StrCat("LLM response has no choices: ", remote::QuoteUpstream(body)));
  }
  ChatCompletion completion;
  if (const Json* message = Member(*choice, "message")) {
    completion.text = StringMember(*message, "content").value_or("");
  } else {
    completion.text = StringMember(*choice, "text").value_or("");
  }
  completion.finish_reason = StringMember(*choice, "finish_reason").value_or("");
  completion.usage = ParseUsage(root);
  completion.model = StringMember(root, "model").value_or("");
  return completion;
}

}  // namespace quarry::generation
