#include "server/generation/openai_wire.h"

#include <catch2/catch.hpp>
#include <string>

#include "nlohmann/json.hpp"

namespace quarry::generation {
namespace {

using Json = nlohmann::json;

TEST_CASE("Request bodies carry the chat parameters", "[wire]") {
  ChatRequest request;
  request.model = "m1";
  request.messages = {{kSystemRole, "sys"}, {kUserRole, "q \"quoted\" \xC3\xA9"}};
  request.temperature = 0.25f;
  request.max_tokens = 64;
  request.stop = {"END"};
  const Json streamed = Json::parse(ChatRequestToJson(request, true));
  CHECK(streamed["model"] == "m1");
  CHECK(streamed["messages"].size() == 2);
  CHECK(streamed["messages"][1]["role"] == "user");
  CHECK(streamed["messages"][1]["content"] == "q \"quoted\" \xC3\xA9");
  CHECK(streamed["temperature"].get<double>() == Approx(0.25));
  CHECK(streamed["max_tokens"] == 64);
  CHECK(streamed["stop"] == Json::array({"END"}));
  CHECK(streamed["stream"] == true);
  CHECK(streamed["stream_options"]["include_usage"] == true);

  ChatRequest minimal;
  minimal.model = "m";
  const Json plain = Json::parse(ChatRequestToJson(minimal, false));
  CHECK(plain["stream"] == false);
  CHECK_FALSE(plain.contains("stream_options"));
  CHECK_FALSE(plain.contains("temperature"));
  CHECK_FALSE(plain.contains("max_tokens"));
  CHECK_FALSE(plain.contains("stop"));
}

TEST_CASE("Stream chunks: content, role-only, finish, usage-only, nulls, extras", "[wire]") {
  absl::StatusOr<StreamChunk> role = ParseStreamChunk(
      R"({"id":"x","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})");
  REQUIRE(role.ok());
  CHECK(role->content.empty());
  CHECK_FALSE(role->finish_reason.has_value());
  CHECK(role->model == "m");

  absl::StatusOr<StreamChunk> content = ParseStreamChunk(
      R"({"choices":[{"delta":{"content":"Hi","reasoning_content":null},"logprobs":null,"finish_reason":null}],"x":{"y":[1]}})");
  REQUIRE(content.ok());
  CHECK(content->content == "Hi");

  absl::StatusOr<StreamChunk> last = ParseStreamChunk(
      R"({"choices":[{"delta":{},"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}})");
  REQUIRE(last.ok());
  CHECK(last->finish_reason == std::optional<std::string>("length"));
  CHECK(last->usage == std::optional<TokenUsage>(TokenUsage{5, 3, 8}));

  absl::StatusOr<StreamChunk> usage_only =
      ParseStreamChunk(R"({"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3}})");
  REQUIRE(usage_only.ok());
  CHECK(usage_only->content.empty());
  CHECK(usage_only->usage == std::optional<TokenUsage>(TokenUsage{5, 3, 8}));

  absl::StatusOr<StreamChunk> null_usage =
      ParseStreamChunk(R"({"choices":[{"delta":{"content":null}}],"usage":null})");
  REQUIRE(null_usage.ok());
  CHECK_FALSE(null_usage->usage.has_value());
  CHECK(null_usage->content.empty());

  // Wrong types never throw.
  CHECK(ParseStreamChunk(R"({"choices":"no","usage":{"prompt_tokens":"x"}})").ok());
  CHECK(ParseStreamChunk(R"({"choices":[{"delta":{"content":7}}]})")->content.empty());
}

TEST_CASE("Malformed and error chunks become statuses", "[wire]") {
  CHECK(ParseStreamChunk("not json").status().code() == absl::StatusCode::kInternal);
  CHECK(ParseStreamChunk("[1,2]").status().code() == absl::StatusCode::kInternal);
  const absl::Status error =
      ParseStreamChunk(R"({"error":{"message":"engine crashed","type":"server_error"}})").status();
  CHECK(error.code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(error.message()).find("engine crashed") != std::string::npos);
}

TEST_CASE("Whole completions parse", "[wire]") {
  absl::StatusOr<ChatCompletion> completion = ParseChatCompletion(
      R"({"model":"m2","choices":[{"message":{"role":"assistant","content":"Yes [1]."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}})");
  REQUIRE(completion.ok());
  CHECK(completion->text == "Yes [1].");
  CHECK(completion->finish_reason == "stop");
  CHECK(completion->model == "m2");
  CHECK(completion->usage == std::optional<TokenUsage>(TokenUsage{9, 4, 13}));
  CHECK(ParseChatCompletion(R"({"choices":[]})").status().code() == absl::StatusCode::kInternal);
  CHECK(ParseChatCompletion("").status().code() == absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace quarry::generation
