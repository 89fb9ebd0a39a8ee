#include "index/collection_config.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "index/search/dense_index.h"

namespace quarry {
namespace {

constexpr int kConfigFormatVersion = 1;

absl::string_view EmbedderName(EmbedderKind kind) {
  switch (kind) {
    case EmbedderKind::kBuiltin:
      return "builtin";
    case EmbedderKind::kOpenAi:
      return "openai";
    case EmbedderKind::kNone:
      return "none";
  }
  return "builtin";
}

absl::StatusOr<EmbedderKind> EmbedderFromName(absl::string_view name) {
  if (name == "builtin") return EmbedderKind::kBuiltin;
  if (name == "openai") return EmbedderKind::kOpenAi;
  if (name == "none") return EmbedderKind::kNone;
  return absl::DataLossError(absl::StrCat("unknown embedder '", name, "'"));
}

}  // namespace

absl::Status ValidateCollectionName(absl::string_view name) {
  if (name.empty() || name.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("collection name must be 1 to 64 characters, got ", name.size()));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && !(i > 0 && (c == '_' || c == '-'))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "collection name '", name.size() <= 64 ? name : name.substr(0, 64),
          "' is invalid: use lowercase letters, digits, '_' and '-', starting with a letter "
          "or digit"));
    }
  }
  return absl::OkStatus();
}

absl::Status ResolveCollectionConfig(CollectionConfig& config) {
  if (absl::Status status = ValidateCollectionName(config.name); !status.ok()) return status;
  if (config.dimension == 0) {
    if (config.embedder == EmbedderKind::kBuiltin) {
      config.dimension = kBuiltinEmbedderDefaultDimension;
    } else {
      return absl::InvalidArgumentError(
          "spec.dimension is required when the embedder is not the built-in one");
    }
  }
  if (config.dimension < 2 || config.dimension > 8192) {
    return absl::InvalidArgumentError(
        absl::StrCat("spec.dimension must be in 2..8192, got ", config.dimension));
  }
  if (config.index_spec.empty()) config.index_spec = std::string(kDefaultIndexSpec);
  // Building an empty index is the one reliable check that FAISS accepts the string.
  absl::StatusOr<std::unique_ptr<DenseIndex>> probe =
      DenseIndex::Create(config.dimension, config.index_spec, config.metric);
  if (!probe.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("spec.index_spec '", config.index_spec, "': ", probe.status().message()));
  }
  if (absl::Status status = text::ValidateChunkerOptions(config.chunking); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("spec.chunking: ", status.message()));
  }
  return absl::OkStatus();
}

std::string CollectionConfigToJson(const CollectionConfig& config) {
  nlohmann::json json = {
      {"format_version", kConfigFormatVersion},
      {"name", config.name},
      {"dimension", config.dimension},
      {"embedder", EmbedderName(config.embedder)},
      {"embedder_model", config.embedder_model},
      {"index_spec", config.index_spec},
      {"metric", config.metric == Metric::kL2 ? "l2" : "inner_product"},
      {"chunk_target_tokens", config.chunking.target_tokens},
      {"chunk_overlap_tokens", config.chunking.overlap_tokens},
      {"system_template", config.system_template},
      {"user_template", config.user_template},
      {"create_time_unix", config.create_time_unix},
  };
  return json.dump(2) + "\n";
}

absl::StatusOr<CollectionConfig> CollectionConfigFromJson(absl::string_view text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::DataLossError("collection config is not a JSON object");
  }
  if (json.value("format_version", 0) != kConfigFormatVersion) {
    return absl::DataLossError(absl::StrCat("collection config has format_version ",
                                            json.value("format_version", 0), ", expected ",
                                            kConfigFormatVersion));
  }
  CollectionConfig config;
  // value() with a default never throws for a missing key; a wrong type would, so check types.
  for (const char* key : {"name", "embedder", "embedder_model", "index_spec", "metric",
                          "system_template", "user_template"}) {
    if (!json.contains(key) || !json[key].is_string()) {
      return absl::DataLossError(
          absl::StrCat("collection config: '", key, "' missing or not a string"));
    }
  }
  for (const char* key :
       {"dimension", "chunk_target_tokens", "chunk_overlap_tokens", "create_time_unix"}) {
    if (!json.contains(key) || !json[key].is_number_integer()) {
      return absl::DataLossError(
          absl::StrCat("collection config: '", key, "' missing or not an integer"));
    }
  }
  config.name = json["name"].get<std::string>();
  config.dimension = json["dimension"].get<int>();
  absl::StatusOr<EmbedderKind> embedder = EmbedderFromName(json["embedder"].get<std::string>());
  if (!embedder.ok()) return embedder.status();
  config.embedder = *embedder;
  config.embedder_model = json["embedder_model"].get<std::string>();
  config.index_spec = json["index_spec"].get<std::string>();
  config.metric = json["metric"].get<std::string>() == "l2" ? Metric::kL2 : Metric::kInnerProduct;
  config.chunking.target_tokens = json["chunk_target_tokens"].get<int>();
  config.chunking.overlap_tokens = json["chunk_overlap_tokens"].get<int>();
  config.system_template = json["system_template"].get<std::string>();
  config.user_template = json["user_template"].get<std::string>();
  config.create_time_unix = json["create_time_unix"].get<int64_t>();
  return config;
}

}  // namespace quarry
