#include "server/generation/openai_wire.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace quarry::generation {
namespace {

using Json = nlohmann::json;

// Upstream text quoted in our error messages is cut to this many bytes.
constexpr size_t kMaxQuotedBytes = 512;

absl::string_view Absl(std::string_view text) { return {text.data(), text.size()}; }

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

std::string Cut(std::string_view text) {
  if (text.size() <= kMaxQuotedBytes) return std::string(text);
  size_t cut = kMaxQuotedBytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(Absl(text.substr(0, cut)), "...");
}

std::string MessageOf(const Json& root) {
  if (const Json* error = Member(root, "error")) {
    if (error->is_string()) return error->get<std::string>();
    if (std::optional<std::string> message = StringMember(*error, "message")) return *message;
    if (error->is_object()) return Dump(*error);
  }
  if (const Json* detail = Member(root, "detail")) {  // FastAPI-based servers
    if (detail->is_string()) return detail->get<std::string>();
    return Dump(*detail);
  }
  if (std::optional<std::string> message = StringMember(root, "message")) return *message;
  return "";
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
    return absl::InternalError(
        absl::StrCat("LLM stream sent a chunk that is not a JSON object: ", Cut(data)));
  }
  if (IsErrorObject(root)) {
    return absl::UnavailableError(
        absl::StrCat("LLM stream reported an error: ", Cut(MessageOf(root))));
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
    return absl::InternalError(absl::StrCat("LLM response is not a JSON object: ", Cut(body)));
  }
  if (IsErrorObject(root)) {
    return absl::UnavailableError(absl::StrCat("LLM reported an error: ", Cut(MessageOf(root))));
  }
  const Json* choice = FirstChoice(root);
  if (choice == nullptr) {
    return absl::InternalError(absl::StrCat("LLM response has no choices: ", Cut(body)));
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

std::string UpstreamErrorMessage(std::string_view body) {
  const Json root = Parse(body);
  std::string message = root.is_object() ? MessageOf(root) : "";
  if (message.empty()) message = std::string(body);
  return Cut(message);
}

absl::Status StatusForHttpError(long http_status, std::string_view body) {
  std::string message = UpstreamErrorMessage(body);
  if (message.empty()) message = "(empty body)";
  const std::string text = absl::StrCat("LLM endpoint answered HTTP ", http_status, ": ", message);
  if (http_status == 429) return absl::ResourceExhaustedError(text);
  if (http_status >= 500 || http_status == 408) return absl::UnavailableError(text);
  if (http_status == 400 || http_status == 413 || http_status == 422) {
    return absl::InvalidArgumentError(text);
  }
  return absl::FailedPreconditionError(text);
}

bool IsRetryableHttpStatus(long http_status) {
  return http_status == 408 || http_status == 429 || http_status >= 500;
}

}  // namespace quarry::generation
