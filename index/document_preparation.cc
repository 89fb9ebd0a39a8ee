#include "index/document_preparation.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "index/text/chunk_text.h"
#include "index/text/chunker.h"
#include "index/text/tokenizer.h"
#include "index/text/utf8.h"

namespace quarry {
namespace {

bool IsMetadataKeyCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

bool HasControlCharacter(absl::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  });
}

std::string GenerateDocumentId(absl::BitGen& random) {
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(random),
                         absl::Uniform<uint64_t>(random));
}

absl::Status ValidateDocument(const Document& document, size_t position,
                              const CollectionConfig& config, const CollectionLimits& limits,
                              bool has_embedder) {
  const std::string field = absl::StrCat("documents[", position, "]");
  auto invalid = [&](absl::string_view name, absl::string_view problem) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".", name, ": ", problem));
  };
  if (static_cast<int64_t>(document.id.size()) > limits.max_id_bytes) {
    return invalid("id", absl::StrCat("is ", document.id.size(), " bytes; the limit is ",
                                      limits.max_id_bytes));
  }
  if (!text::IsValidUtf8(document.id) || HasControlCharacter(document.id)) {
    return invalid("id", "must be valid UTF-8 without control characters");
  }
  if (document.text.empty()) return invalid("text", "is empty");
  if (static_cast<int64_t>(document.text.size()) > limits.max_document_bytes) {
    return invalid("text", absl::StrCat("is ", document.text.size(), " bytes; the limit is ",
                                        limits.max_document_bytes));
  }
  if (!text::IsValidUtf8(document.text)) return invalid("text", "is not valid UTF-8");
  if (static_cast<int64_t>(document.title.size()) > limits.max_title_bytes) {
    return invalid("title", absl::StrCat("is ", document.title.size(), " bytes; the limit is ",
                                         limits.max_title_bytes));
  }
  if (!text::IsValidUtf8(document.title)) return invalid("title", "is not valid UTF-8");
  if (static_cast<int64_t>(document.metadata.size()) > limits.max_metadata_entries) {
    return invalid("metadata",
                   absl::StrCat("has ", document.metadata.size(), " entries; the limit is ",
                                limits.max_metadata_entries));
  }
  for (const auto& [key, value] : document.metadata) {
    if (key.empty() || key.size() > 128 ||
        !std::all_of(key.begin(), key.end(), IsMetadataKeyCharacter)) {
      return invalid("metadata", absl::StrCat("key '", text::IsValidUtf8(key) ? key : "?",
                                              "' must be 1 to 128 characters of [A-Za-z0-9_.-]"));
    }
    if (const auto* string_value = std::get_if<std::string>(&value)) {
      if (static_cast<int64_t>(string_value->size()) > limits.max_metadata_value_bytes) {
        return invalid("metadata",
                       absl::StrCat("value of '", key, "' is ", string_value->size(),
                                    " bytes; the limit is ", limits.max_metadata_value_bytes));
      }
      if (!text::IsValidUtf8(*string_value)) {
        return invalid("metadata", absl::StrCat("value of '", key, "' is not valid UTF-8"));
      }
    } else if (const auto* number = std::get_if<double>(&value)) {
      if (!std::isfinite(*number)) {
        return invalid("metadata", absl::StrCat("value of '", key, "' is not a finite number"));
      }
    }
  }
  if (!document.vector.empty()) {
    if (static_cast<int>(document.vector.size()) != config.dimension) {
      return invalid("vector",
                     absl::StrCat("has dimension ", document.vector.size(), "; collection '",
                                  config.name, "' has dimension ", config.dimension));
    }
    if (!std::all_of(document.vector.begin(), document.vector.end(),
                     [](float x) { return std::isfinite(x); })) {
      return invalid("vector", "contains a NaN or infinite value");
    }
  } else {
    if (!has_embedder) {
      return invalid("vector",
                     absl::StrCat("is required: collection '", config.name, "' has no embedder"));
    }
    const std::vector<text::Token> tokens = text::Tokenize(document.text);
    if (tokens.empty()) return invalid("text", "has no words or symbols to index");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDocuments(const std::vector<Document>& documents,
                               const CollectionConfig& config, const CollectionLimits& limits,
                               bool has_embedder) {
  if (documents.empty()) return absl::InvalidArgumentError("documents: at least one is required");
  absl::flat_hash_set<absl::string_view> seen_ids;
  for (size_t i = 0; i < documents.size(); ++i) {
    if (absl::Status status = ValidateDocument(documents[i], i, config, limits, has_embedder);
        !status.ok()) {
      return status;
    }
    if (!documents[i].id.empty() && !seen_ids.insert(documents[i].id).second) {
      return absl::InvalidArgumentError(absl::StrCat("documents[", i, "].id: '", documents[i].id,
                                                     "' appears more than once in the batch"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StoredDocument>> PrepareDocuments(std::vector<Document> documents,
                                                             const CollectionConfig& config,
                                                             const Embedder* embedder) {
  std::vector<StoredDocument> prepared;
  prepared.reserve(documents.size());
  std::vector<std::string> texts_to_embed;
  std::vector<std::pair<size_t, size_t>> embed_targets;  // (document, chunk)
  absl::BitGen random;
  for (Document& document : documents) {
    StoredDocument stored;
    stored.id = document.id.empty() ? GenerateDocumentId(random) : std::move(document.id);
    stored.title = std::move(document.title);
    stored.text = std::move(document.text);
    stored.metadata = std::move(document.metadata);
    if (!document.vector.empty()) {
      stored.chunks.push_back(
          StoredChunk{0, static_cast<uint32_t>(stored.text.size()), std::move(document.vector)});
    } else {
      for (const text::ChunkSpan& span : text::ChunkText(stored.text, config.chunking)) {
        embed_targets.emplace_back(prepared.size(), stored.chunks.size());
        texts_to_embed.push_back(text::ChunkTextWithTitle(
            stored.title,
            absl::string_view(stored.text).substr(span.start, span.end - span.start)));
        stored.chunks.push_back(StoredChunk{span.start, span.end, {}});
      }
    }
    prepared.push_back(std::move(stored));
  }
  if (texts_to_embed.empty()) return prepared;
  if (embedder == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "collection '", config.name, "' has no embedder for documents without vectors"));
  }
  // One call for the whole batch: HTTP embedders batch requests.
  std::vector<std::string_view> views(texts_to_embed.begin(), texts_to_embed.end());
  absl::StatusOr<std::vector<float>> vectors = embedder->Embed(views);
  if (!vectors.ok()) return vectors.status();
  const size_t dimension = static_cast<size_t>(config.dimension);
  if (vectors->size() != views.size() * dimension) {
    return absl::InternalError("embedder returned the wrong number of values");
  }
  for (size_t i = 0; i < embed_targets.size(); ++i) {
    const auto [document_index, chunk_index] = embed_targets[i];
    prepared[document_index].chunks[chunk_index].vector.assign(
        vectors->begin() + static_cast<ptrdiff_t>(i * dimension),
        vectors->begin() + static_cast<ptrdiff_t>((i + 1) * dimension));
  }
  return prepared;
}

}  // namespace quarry
