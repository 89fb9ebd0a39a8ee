// The embedder interface: text in, one fixed-dimension float vector per text out.
// Implementations: the built-in HashingEmbedder (default, offline) and OpenAiEmbedder, a
// client for OpenAI-compatible embeddings endpoints.
#ifndef QUARRY_INDEX_EMBED_EMBEDDER_H_
#define QUARRY_INDEX_EMBED_EMBEDDER_H_

#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "index/remote/call_control.h"

namespace quarry {

class Embedder {
 public:
  virtual ~Embedder() = default;

  virtual int dimension() const = 0;

  // Row-major texts.size() x dimension() matrix. Thread-safe.
  virtual absl::StatusOr<std::vector<float>> Embed(
      absl::Span<const std::string_view> texts) const = 0;

  // One query's vector, given how informative each of its analyzed terms is in the collection
  // (`term_weight(term)`, e.g. BM25's idf). An embedder that can use collection statistics
  // weighs the query's features with them; the default ignores them. An embedder that calls
  // out gives up by the caller's deadline (DEADLINE_EXCEEDED) or when the caller cancels
  // (CANCELLED). Thread-safe.
  virtual absl::StatusOr<std::vector<float>> EmbedQuery(
      std::string_view text, absl::FunctionRef<float(std::string_view term)> term_weight,
      const remote::CallControl& caller) const {
    return Embed({&text, 1});
  }
};

}  // namespace quarry

#endif  // QUARRY_INDEX_EMBED_EMBEDDER_H_
