#include "index/embed/openai_embedder.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "index/remote/http_error.h"
#include "nlohmann/json.hpp"

namespace quarry {
namespace {

using Json = nlohmann::json;

}  // namespace

absl::StatusOr<std::unique_ptr<OpenAiEmbedder>> OpenAiEmbedder::Create(
    std::shared_ptr<remote::HttpClient> client, const OpenAiEmbeddingsEndpoint& endpoint,
    std::string model, int dimension, UpstreamCallObserver* observer) {
  if (model.empty()) {
    return absl::InvalidArgumentError(
        "the embeddings model is not set: name it in spec.embedder_model or configure the "
        "server's --embedder_model");
  }
  if (endpoint.batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("embedder batch size must be at least 1, got ", endpoint.batch_size));
  }
  if (dimension < 2 || dimension > 8192) {
    return absl::InvalidArgumentError(
        absl::StrCat("embedding dimension must be in 2..8192, got ", dimension));
  }
  return std::unique_ptr<OpenAiEmbedder>(
      new OpenAiEmbedder(std::move(client), remote::JoinUrl(endpoint.base_url, "embeddings"),
                         std::move(model), dimension, endpoint.batch_size, endpoint.call_timeout,
                         observer));
}

absl::StatusOr<std::vector<float>> OpenAiEmbedder::Embed(
    absl::Span<const std::string_view> texts) const {
  remote::CallControl control;
  control.deadline = absl::Now() + call_timeout_;
  return EmbedUnder(texts, control);
}

absl::StatusOr<std::vector<float>> OpenAiEmbedder::EmbedQuery(
    std::string_view text, absl::FunctionRef<float(std::string_view term)> /*term_weight*/,
    const remote::CallControl& caller) const {
  remote::CallControl control = caller;
  control.deadline = std::min(caller.deadline, absl::Now() + call_timeout_);
  return EmbedUnder({&text, 1}, control);
}

absl::StatusOr<std::vector<float>> OpenAiEmbedder::EmbedUnder(
    absl::Span<const std::string_view> texts, const remote::CallControl& control) const {
  std::vector<float> vectors;
  vectors.reserve(texts.size() * static_cast<size_t>(dimension_));
  for (size_t start = 0; start < texts.size(); start += static_cast<size_t>(batch_size_)) {
    const size_t count = std::min(static_cast<size_t>(batch_size_), texts.size() - start);
    const absl::Time sent = absl::Now();
    int64_t input_tokens = 0;
    const absl::Status status =
        EmbedBatch(texts.subspan(start, count), control, vectors, input_tokens);
    if (observer_ != nullptr) observer_->OnCall(status, absl::Now() - sent, input_tokens, 0);
    if (!status.ok()) return status;
  }
  return vectors;
}

absl::Status OpenAiEmbedder::EmbedBatch(absl::Span<const std::string_view> texts,
                                        const remote::CallControl& control,
                                        std::vector<float>& out,
                                        int64_t& input_tokens) const {
  Json input = Json::array();
  for (std::string_view text : texts) input.push_back(std::string(text));
  const std::string request = Json{{"model", model_}, {"input", std::move(input)}}.dump(
      -1, ' ', false, Json::error_handler_t::replace);
  absl::StatusOr<remote::HttpResponse> response = client_->PostJson(url_, request, control);
  if (!response.ok()) return response.status();

  const std::string& body = response->body;
  const Json root = Json::parse(body, /*cb=*/nullptr, /*allow_exceptions=*/false);
  auto data = root.is_object() ? root.find("data") : root.end();
  if (!root.is_object() || data == root.end() || !data->is_array()) {
    return remote::UnusableResponse("embeddings", "no data array", body);
  }
  if (auto usage = root.find("usage"); usage != root.end() && usage->is_object()) {
    if (auto prompt = usage->find("prompt_tokens");
        prompt != usage->end() && prompt->is_number_unsigned()) {
      input_tokens = prompt->get<int64_t>();
    }
  }
  if (data->size() != texts.size()) {
    return remote::UnusableResponse(
        "embeddings", absl::StrCat(data->size(), " embeddings for ", texts.size(), " inputs"),
        body);
  }
  // Servers may answer out of order: data[].index says which input a vector is for.
  std::vector<const Json*> by_index(texts.size(), nullptr);
  for (size_t i = 0; i < data->size(); ++i) {
    const Json& item = (*data)[i];
    size_t index = i;
    if (auto it = item.find("index"); item.is_object() && it != item.end()) {
      if (!it->is_number_unsigned() || it->get<size_t>() >= texts.size()) {
        return remote::UnusableResponse("embeddings", "an index out of range", body);
      }
      index = it->get<size_t>();
    }
    if (by_index[index] != nullptr)
      return remote::UnusableResponse("embeddings", "an index given twice", body);
    by_index[index] = &item;
  }
  const size_t first = out.size();
  for (const Json* item : by_index) {
    auto embedding = item->is_object() ? item->find("embedding") : item->end();
    if (!item->is_object() || embedding == item->end() || !embedding->is_array()) {
      return remote::UnusableResponse("embeddings", "an item without an embedding array", body);
    }
    if (embedding->size() != static_cast<size_t>(dimension_)) {
      out.resize(first);
      return absl::FailedPreconditionError(
          absl::StrCat("embeddings model '", model_, "' returned ", embedding->size(),
                       "-dimensional vectors but the collection's dimension is ", dimension_,
                       " (create the collection with spec.dimension=", embedding->size(),
                       " or use a model that returns ", dimension_, " dimensions)"));
    }
    for (const Json& value : *embedding) {
      if (!value.is_number() || std::abs(value.get<double>()) > std::numeric_limits<float>::max()) {
        out.resize(first);
        return remote::UnusableResponse("embeddings", "an embedding value that is not a float",
                                        body);
      }
      out.push_back(static_cast<float>(value.get<double>()));
    }
  }
  return absl::OkStatus();
}

}  // namespace quarry
