// What happens to submitted documents before they are stored: validation (clear errors that
// name the field), id generation, chunking, and embedding of every chunk in one batch.
// Shared by Collection::Ingest and the indexer's bulk build, so both store exactly the same.
#ifndef QUARRY_INDEX_DOCUMENT_PREPARATION_H_
#define QUARRY_INDEX_DOCUMENT_PREPARATION_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/collection_config.h"
#include "index/document.h"
#include "index/embed/embedder.h"

namespace quarry {

// Limits on what a caller may store or ask; the server sets them from its flags.
struct CollectionLimits {
  int64_t max_document_bytes = 8 << 20;
  int64_t max_title_bytes = 4096;
  int64_t max_id_bytes = 256;
  int64_t max_metadata_entries = 64;
  int64_t max_metadata_value_bytes = 4096;
  int64_t max_query_bytes = 16 << 10;
  int max_top_k = 1000;
};

// INVALID_ARGUMENT naming documents[i].field for the first problem: an empty batch, bad ids,
// empty/oversized/non-UTF-8 text, bad metadata, a vector of the wrong dimension, a missing
// vector when the collection has no embedder, or an id repeated in the batch.
absl::Status ValidateDocuments(const std::vector<Document>& documents,
                               const CollectionConfig& config, const CollectionLimits& limits,
                               bool has_embedder);

// Chunks and embeds validated documents (a document with its own vector becomes one chunk with
// that vector) and generates the ids left empty. `embedder` may be null only if every
// document carries a vector.
absl::StatusOr<std::vector<StoredDocument>> PrepareDocuments(std::vector<Document> documents,
                                                             const CollectionConfig& config,
                                                             const Embedder* embedder);

}  // namespace quarry

#endif  // QUARRY_INDEX_DOCUMENT_PREPARATION_H_
