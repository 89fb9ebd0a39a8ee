// A collection's configuration: what the caller chose at creation, with defaults resolved,
// persisted as config.json in the collection's directory. Also the rules for collection names,
// which become directory names and so must never reach the filesystem unchecked.
#ifndef QUARRY_INDEX_COLLECTION_CONFIG_H_
#define QUARRY_INDEX_COLLECTION_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "index/search/dense_index.h"
#include "index/text/chunker.h"

namespace quarry {

enum class EmbedderKind { kBuiltin, kOpenAi, kNone };

struct CollectionConfig {
  std::string name;
  int dimension = 0;  // 0 before ResolveCollectionConfig: the embedder's default
  EmbedderKind embedder = EmbedderKind::kBuiltin;
  std::string embedder_model;
  std::string index_spec;  // FAISS factory string; empty before resolution: "HNSW32"
  Metric metric = Metric::kInnerProduct;
  text::ChunkerOptions chunking;
  std::string system_template;  // empty: the server's default
  std::string user_template;
  int64_t create_time_unix = 0;
};

inline constexpr int kBuiltinEmbedderDefaultDimension = 768;
inline constexpr absl::string_view kDefaultIndexSpec = "HNSW32";

// INVALID_ARGUMENT unless `name` is 1..64 characters of [a-z0-9_-] starting with [a-z0-9].
absl::Status ValidateCollectionName(absl::string_view name);

// Fills defaults and validates every field (name, dimension range, factory string accepted by
// FAISS, chunking). INVALID_ARGUMENT naming the field otherwise.
absl::Status ResolveCollectionConfig(CollectionConfig& config);

std::string CollectionConfigToJson(const CollectionConfig& config);
// DATA_LOSS when the text is not a config this version understands.
absl::StatusOr<CollectionConfig> CollectionConfigFromJson(absl::string_view json);

}  // namespace quarry

#endif  // QUARRY_INDEX_COLLECTION_CONFIG_H_
