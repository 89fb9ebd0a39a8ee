#include "server/generation/llm_client.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/generation/openai_wire.h"
#include "server/generation/sse_parser.h"

namespace quarry::generation {
namespace {

absl::string_view Absl(std::string_view text) { return {text.data(), text.size()}; }

// A streamed chat completion: server-sent events parsed into answer text, passed on as it
// arrives.
class CompletionStream : public remote::BodyStream {
 public:
  CompletionStream(bool enabled, const DeltaCallback& on_delta)
      : enabled_(enabled), on_delta_(on_delta) {}

  bool Begin(std::string_view content_type) override {
    if (!enabled_ || !absl::StrContains(Absl(content_type), "text/event-stream")) return false;
    completion_ = ChatCompletion();
    done_ = false;
    receiver_gone_ = false;
    error_ = absl::OkStatus();
    parser_ =
        std::make_unique<SseParser>([this](std::string_view data) { return HandleEvent(data); });
    return true;
  }

  bool Feed(std::string_view piece) override { return parser_->Feed(piece); }

  absl::Status Finish() override {
    // The parser may hold a last event that had no blank line after it.
    if (!receiver_gone_ && error_.ok()) parser_->Finish();
    if (receiver_gone_) return absl::CancelledError("the receiver of the answer went away");
    if (!error_.ok()) return error_;
    if (!done_ && completion_.finish_reason.empty()) {
      return absl::UnavailableError(absl::StrCat("LLM stream ended before the answer was finished",
                                                 delivered_ ? " (the answer is incomplete)" : ""));
    }
    return absl::OkStatus();
  }

  bool delivered() const override { return delivered_; }

  ChatCompletion TakeCompletion() { return std::move(completion_); }

 private:
  bool HandleEvent(std::string_view data) {
    if (absl::StripAsciiWhitespace(Absl(data)) == "[DONE]") {
      done_ = true;
      return true;
    }
    absl::StatusOr<StreamChunk> chunk = ParseStreamChunk(data);
    if (!chunk.ok()) {
      error_ = chunk.status();
      return false;
    }
    if (!chunk->model.empty()) completion_.model = chunk->model;
    if (chunk->usage.has_value()) completion_.usage = chunk->usage;
    if (chunk->finish_reason.has_value()) completion_.finish_reason = *chunk->finish_reason;
    if (chunk->content.empty()) return true;
    completion_.text += chunk->content;
    delivered_ = true;
    if (!on_delta_(chunk->content)) {
      receiver_gone_ = true;
      return false;
    }
    return true;
  }

  const bool enabled_;
  const DeltaCallback& on_delta_;
  std::unique_ptr<SseParser> parser_;
  ChatCompletion completion_;
  bool done_ = false;  // "[DONE]" seen
  bool delivered_ = false;
  bool receiver_gone_ = false;
  absl::Status error_;
};

}  // namespace

LlmClient::LlmClient(LlmOptions options)
    : options_(std::move(options)),
      url_(remote::JoinUrl(options_.base_url, "chat/completions")),
      http_(options_.http) {}

absl::StatusOr<ChatCompletion> LlmClient::Complete(const ChatRequest& request,
                                                   const CallControl& control,
                                                   const DeltaCallback& on_delta) {
  ChatRequest resolved = request;
  if (resolved.model.empty()) resolved.model = options_.model;
  CompletionStream stream(options_.stream, on_delta);
  absl::StatusOr<remote::HttpResponse> response =
      http_.PostJson(url_, ChatRequestToJson(resolved, options_.stream), control, &stream,
                     options_.stream ? "text/event-stream" : "application/json");
  if (!response.ok()) return response.status();
  ChatCompletion completion;
  if (response->streamed) {
    completion = stream.TakeCompletion();
  } else {
    // A whole JSON response: asked for, or sent by a server that does not stream.
    absl::StatusOr<ChatCompletion> parsed = ParseChatCompletion(response->body);
    if (!parsed.ok()) return parsed.status();
    completion = *std::move(parsed);
    if (!completion.text.empty() && !on_delta(completion.text)) {
      return absl::CancelledError("the receiver of the answer went away");
    }
  }
  if (completion.model.empty()) completion.model = resolved.model;
  return completion;
}

}  // namespace quarry::generation
