#include "index/search/reranker_client.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "index/remote/http_error.h"
#include "nlohmann/json.hpp"

namespace quarry {
namespace {

using Json = nlohmann::json;

}  // namespace

RerankerClient::RerankerClient(RerankerOptions options)
    : options_(std::move(options)), http_(options_.http) {}

absl::StatusOr<std::vector<RerankedDocument>> RerankerClient::Rerank(
    std::string_view query, absl::Span<const std::string> documents, size_t top_n,
    const remote::CallControl& control) {
  if (documents.empty() || top_n == 0) return std::vector<RerankedDocument>();
  top_n = std::min(top_n, documents.size());
  Json request = {{"query", std::string(query)},
                  {"documents", Json(std::vector<std::string>(documents.begin(), documents.end()))},
                  {"top_n", top_n},
                  {"return_documents", false}};
  if (!options_.model.empty()) request["model"] = options_.model;
  absl::StatusOr<remote::HttpResponse> response = http_.PostJson(
      options_.url, request.dump(-1, ' ', false, Json::error_handler_t::replace), control);
  if (!response.ok()) return response.status();

  const std::string& body = response->body;
  const Json root = Json::parse(body, /*cb=*/nullptr, /*allow_exceptions=*/false);
  const Json* results = nullptr;
  if (root.is_array()) {
    results = &root;  // TEI
  } else if (auto it = root.find("results"); root.is_object() && it != root.end()) {
    results = &*it;
  }
  if (results == nullptr || !results->is_array())
    return remote::UnusableResponse("reranker", "no results list", body);
  std::vector<RerankedDocument> ranked;
  std::vector<bool> seen(documents.size(), false);
  for (const Json& item : *results) {
    if (!item.is_object()) {
      return remote::UnusableResponse("reranker", "a result that is not an object", body);
    }
    auto index = item.find("index");
    auto score = item.find("relevance_score");
    if (score == item.end()) score = item.find("score");
    if (index == item.end() || !index->is_number_unsigned() || score == item.end() ||
        !score->is_number() || std::abs(score->get<double>()) > std::numeric_limits<float>::max()) {
      return remote::UnusableResponse("reranker", "a result without a numeric index and score",
                                      body);
    }
    const size_t position = index->get<size_t>();
    if (position >= documents.size() || seen[position]) {
      return remote::UnusableResponse("reranker",
                                      "a result for a document that was not sent, or twice", body);
    }
    seen[position] = true;
    ranked.push_back({position, static_cast<float>(score->get<double>())});
  }
  // Rerankers sort by score already, but not every one promises to, and TEI may ignore top_n.
  std::stable_sort(
      ranked.begin(), ranked.end(),
      [](const RerankedDocument& a, const RerankedDocument& b) { return a.score > b.score; });
  if (ranked.size() > top_n) ranked.resize(top_n);
  return ranked;
}

}  // namespace quarry
