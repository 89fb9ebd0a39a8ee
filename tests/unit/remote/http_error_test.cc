#include "index/remote/http_error.h"

#include <catch2/catch.hpp>
#include <string>

namespace quarry::remote {
namespace {

TEST_CASE("Error bodies of every common shape give their message", "[http]") {
  CHECK(UpstreamErrorMessage(R"({"error":{"message":"model not found","code":404}})") ==
        "model not found");
  CHECK(UpstreamErrorMessage(R"({"error":"bad key"})") == "bad key");
  CHECK(UpstreamErrorMessage(R"({"object":"error","message":"too long","code":400})") ==
        "too long");
  CHECK(UpstreamErrorMessage(R"({"detail":"Not Found"})") == "Not Found");
  CHECK(UpstreamErrorMessage("Bad Gateway") == "Bad Gateway");
  CHECK(UpstreamErrorMessage(std::string(2000, 'x')).size() < 600);
}

TEST_CASE("HTTP errors map to status codes", "[http]") {
  const std::string body = R"({"error":{"message":"upstream says no"}})";
  CHECK(StatusForHttpError("LLM", 429, body).code() == absl::StatusCode::kResourceExhausted);
  CHECK(StatusForHttpError("LLM", 500, body).code() == absl::StatusCode::kUnavailable);
  CHECK(StatusForHttpError("LLM", 503, body).code() == absl::StatusCode::kUnavailable);
  CHECK(StatusForHttpError("LLM", 408, body).code() == absl::StatusCode::kUnavailable);
  CHECK(StatusForHttpError("LLM", 400, body).code() == absl::StatusCode::kInvalidArgument);
  CHECK(StatusForHttpError("LLM", 404, body).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(StatusForHttpError("LLM", 401, body).code() == absl::StatusCode::kFailedPrecondition);
  const std::string message(StatusForHttpError("LLM", 404, body).message());
  CHECK(message.find("HTTP 404") != std::string::npos);
  CHECK(message.find("upstream says no") != std::string::npos);
  CHECK(IsRetryableHttpStatus(429));
  CHECK(IsRetryableHttpStatus(502));
  CHECK_FALSE(IsRetryableHttpStatus(400));
  CHECK_FALSE(IsRetryableHttpStatus(404));
}

}  // namespace
}  // namespace quarry::remote
