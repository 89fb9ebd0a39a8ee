// The built-in embedder: deterministic, dependency-free, no model files.
//
// Design: signed feature hashing ("the hashing trick") of three feature families of a text,
//   - stemmed word unigrams (via text::Analyzer, so "cells"/"cell" meet),
//   - stemmed word bigrams (phrases),
//   - character 3..5-grams of each lower-cased word with boundary marks ("<ce", "ell>"),
//     which match across inflections, compounds and typos the stemmer misses,
// each hashed (64-bit, seeded per family) to a dimension and a sign, weighted sublinearly
// (1 + log tf) and by family, then L2-normalised. Inner product of two vectors approximates
// the cosine similarity of their sparse feature vectors; the random signs make hash
// collisions cancel in expectation instead of adding up.
#ifndef QUARRY_INDEX_EMBED_HASHING_EMBEDDER_H_
#define QUARRY_INDEX_EMBED_HASHING_EMBEDDER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "index/embed/embedder.h"
#include "index/text/analyzer.h"

namespace quarry {

struct HashingEmbedderOptions {
  int dimension = 768;
};

class HashingEmbedder : public Embedder {
 public:
  // INVALID_ARGUMENT unless 2 <= dimension <= 8192.
  static absl::StatusOr<std::unique_ptr<HashingEmbedder>> Create(
      const HashingEmbedderOptions& options);

  int dimension() const override { return dimension_; }
  absl::StatusOr<std::vector<float>> Embed(absl::Span<const std::string_view> texts) const override;

  // Scales each query word's features (its stem, the bigrams it is in, its character n-grams)
  // by its term's weight: with BM25's idf, the query vector is TF-IDF weighted and documents
  // sharing its rare words score higher than those sharing its common ones. Documents stay
  // unweighted, so no collection statistics are stored in their vectors.
  absl::StatusOr<std::vector<float>> EmbedQuery(
      std::string_view text, absl::FunctionRef<float(std::string_view term)> term_weight,
      const remote::CallControl& caller) const override;

  // Embeds one text into `out` (dimension() floats). Precondition: valid UTF-8.
  void EmbedOne(std::string_view text, float* out) const;

 private:
  // `term_weights`: one per term, or empty for all 1.
  void EmbedTerms(std::string_view text, const std::vector<std::string>& terms,
                  const std::vector<float>& term_weights, float* out) const;

  explicit HashingEmbedder(int dimension) : dimension_(dimension) {}
  int dimension_;
  text::Analyzer analyzer_;
};

}  // namespace quarry

#endif  // QUARRY_INDEX_EMBED_HASHING_EMBEDDER_H_
