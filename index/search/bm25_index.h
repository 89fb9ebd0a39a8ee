// In-memory BM25 over analyzed terms, one "document" per chunk (title + chunk text).
// Postings are appended as chunks arrive (labels grow); removed chunks are excluded through
// the allowed set and subtracted from the collection statistics (N, average length, df) so
// scores match an index that never held them.
//
// score(q, c) = sum over distinct query terms t of
//   idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(c) / avglen)),
//   idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))            (Lucene's BM25 variant)
#ifndef QUARRY_INDEX_SEARCH_BM25_INDEX_H_
#define QUARRY_INDEX_SEARCH_BM25_INDEX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "index/search/label_set.h"
#include "index/search/scored_label.h"

namespace quarry {

struct Bm25Params {
  float k1 = 0.9f;
  float b = 0.4f;
};

class Bm25Index {
 public:
  // Indexes a chunk's terms under `label`; labels must be added in increasing order.
  void Add(int64_t label, absl::Span<const std::string> terms);
  // Removes a chunk from the statistics; `terms` must be the ones it was added with.
  void Remove(int64_t label, absl::Span<const std::string> terms);

  // The k best allowed labels (null: all added and not removed), best first; labels with no
  // query term do not appear. Thread-safe against other const calls.
  std::vector<ScoredLabel> Search(absl::Span<const std::string> query_terms, int k,
                                  const Bm25Params& params, const LabelSet* allowed) const;

  int64_t live_chunks() const { return live_chunks_; }

 private:
  struct Posting {
    int64_t label;
    uint32_t term_frequency;
  };
  struct Term {
    std::vector<Posting> postings;
    int64_t live_document_frequency = 0;
  };
  absl::flat_hash_map<std::string, Term> terms_;
  std::vector<uint32_t> chunk_lengths_;  // by label
  LabelSet live_;
  int64_t live_chunks_ = 0;
  int64_t live_total_length_ = 0;
};

}  // namespace quarry

#endif  // QUARRY_INDEX_SEARCH_BM25_INDEX_H_
