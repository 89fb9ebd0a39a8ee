#include "index/remote/http_error.h"

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace quarry::remote {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxQuotedBytes = 512;

absl::string_view Absl(std::string_view text) { return {text.data(), text.size()}; }

std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string MessageOf(const Json& root) {
  if (auto error = root.find("error"); error != root.end()) {
    if (error->is_string()) return error->get<std::string>();
    if (error->is_object()) {
      if (auto message = error->find("message"); message != error->end() && message->is_string()) {
        return message->get<std::string>();
      }
      return Dump(*error);
    }
  }
  if (auto detail = root.find("detail"); detail != root.end()) {  // FastAPI-based servers
    if (detail->is_string()) return detail->get<std::string>();
    return Dump(*detail);
  }
  if (auto message = root.find("message"); message != root.end() && message->is_string()) {
    return message->get<std::string>();
  }
  return "";
}

}  // namespace

std::string QuoteUpstream(std::string_view text) {
  if (text.size() <= kMaxQuotedBytes) return std::string(text);
  size_t cut = kMaxQuotedBytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(Absl(text.substr(0, cut)), "...");
}

std::string UpstreamErrorMessage(std::string_view body) {
  const Json root =
      Json::parse(body.begin(), body.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  std::string message = root.is_object() ? MessageOf(root) : "";
  if (message.empty()) message = std::string(body);
  return QuoteUpstream(message);
}

absl::Status StatusForHttpError(std::string_view upstream, long http_status,
                                std::string_view body) {
  std::string message = UpstreamErrorMessage(body);
  if (message.empty()) message = "(empty body)";
  const std::string text =
      absl::StrCat(Absl(upstream), " endpoint answered HTTP ", http_status, ": ", message);
  if (http_status == 429) return absl::ResourceExhaustedError(text);
  if (http_status >= 500 || http_status == 408) return absl::UnavailableError(text);
  if (http_status == 400 || http_status == 413 || http_status == 422) {
    return absl::InvalidArgumentError(text);
  }
  return absl::FailedPreconditionError(text);
}

absl::Status UnusableResponse(std::string_view upstream, std::string_view what,
                              std::string_view body) {
  return absl::InternalError(absl::StrCat(Absl(upstream), " endpoint sent an unusable response (",
                                          Absl(what), "): ", QuoteUpstream(body)));
}

bool IsRetryableHttpStatus(long http_status) {
  return http_status == 408 || http_status == 429 || http_status >= 500;
}

}  // namespace quarry::remote
