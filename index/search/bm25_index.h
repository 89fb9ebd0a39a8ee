// In-memory BM25 over analyzed terms, one "document" per chunk (title + chunk text).
// Postings are appended as chunks arrive (labels grow); removed chunks are excluded through
// the allowed set and subtracted from the collection statistics (N, average length, df) so
// scores match an index that never held them.
//
// score(q, c) = sum over distinct query terms t of
//   idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(c) / avglen)),
//   idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))            (Lucene's BM25 variant)
//
// A collection is several indexes (its shards and the fresh tail). N, the average length and df
// are the whole collection's, not one index's (Bm25Statistics, summed over every index a search
// covers), so a chunk scores the same however the collection is split.
//
// Serialize/Deserialize store the index in a shard's lexical.bin (format in bm25_index.cc);
// a deserialized index scores exactly like the one serialized.
#ifndef QUARRY_INDEX_SEARCH_BM25_INDEX_H_
#define QUARRY_INDEX_SEARCH_BM25_INDEX_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "index/search/label_set.h"
#include "index/search/scored_label.h"

namespace quarry {

// A query term with its weight: its BM25 contribution is multiplied by `weight`. Expanded
// queries (index/search/relevance_feedback.h) weigh feedback terms below the original ones.
struct WeightedTerm {
  std::string term;
  double weight = 1;
};

struct Bm25Params {
  float k1 = 0.9f;
  float b = 0.4f;
};

// Collection statistics for one query: sums over the indexes it searches.
struct Bm25Statistics {
  int64_t chunks = 0;
  int64_t total_length = 0;
  absl::flat_hash_map<std::string, int64_t> document_frequency;  // of the query's terms

  // ln(1 + (N - df + 0.5) / (df + 0.5)); a term not in the map has df 0.
  double Idf(absl::string_view term) const;
};

class Bm25Index {
 public:
  // Indexes a chunk's terms under `label`; labels must be added in increasing order and fit
  // 32 bits (no index holds 4G chunks: FAISS's HNSW stops at 2^31). Others are ignored.
  void Add(int64_t label, absl::Span<const std::string> terms);
  // Removes a chunk from the statistics; `terms` must be the ones it was added with.
  void Remove(int64_t label, absl::Span<const std::string> terms);

  // Adds this index's live chunks, their length and the document frequencies of
  // `query_terms` to *statistics.
  void AddStatistics(absl::Span<const std::string> query_terms, Bm25Statistics* statistics) const;

  // The k best allowed labels (null: all added and not removed), best first; labels with no
  // query term do not appear. Scores use `statistics` (null: this index's own), which must
  // cover `query_terms`. Thread-safe against other const calls.
  std::vector<ScoredLabel> Search(absl::Span<const std::string> query_terms, int k,
                                  const Bm25Params& params, const LabelSet* allowed,
                                  const Bm25Statistics* statistics = nullptr) const;
  // The same with weighted query terms (a repeated term counts once, with its first weight).
  std::vector<ScoredLabel> Search(absl::Span<const WeightedTerm> query, int k,
                                  const Bm25Params& params, const LabelSet* allowed,
                                  const Bm25Statistics* statistics = nullptr) const;

  // Collection statistics over live chunks, for BM25 across several indexes (shards).
  int64_t live_chunks() const { return live_chunks_; }
  int64_t live_total_length() const { return live_total_length_; }
  // The distinct terms of chunk `label` and their frequencies, as Add received them, in no
  // particular order; empty for a label never added. Relevance feedback reads a chunk's words
  // here instead of analysing its text again.
  std::vector<std::pair<absl::string_view, uint32_t>> ChunkTerms(int64_t label) const;

  // Live chunks holding `term`; 0 for an unknown term.
  int64_t document_frequency(absl::string_view term) const;

  // A versioned binary image of the index. Postings of removed chunks are dropped (they never
  // score), their labels stay unused.
  std::string Serialize() const;
  // DATA_LOSS for bytes Serialize did not produce: wrong magic or version, truncation,
  // trailing bytes, or counts, labels and frequencies that contradict each other.
  static absl::StatusOr<Bm25Index> Deserialize(absl::string_view bytes);

 private:
  // 8 bytes: a query walks long posting lists, and their bytes are much of its memory traffic.
  struct Posting {
    uint32_t label;
    uint32_t term_frequency;
  };
  struct Term {
    uint32_t id = 0;  // index into term_texts_
    std::vector<Posting> postings;
    int64_t live_document_frequency = 0;
  };
  // The postings again, grouped by chunk: chunk L's terms are forward_[forward_begin_[L] ..
  // forward_begin_[L + 1]). Built by Add, and by Deserialize from the postings.
  struct ForwardEntry {
    uint32_t term;  // id
    uint32_t term_frequency;
  };
  // Gives `text` an id if it has none; the Term is created empty.
  Term& FindOrAddTerm(absl::string_view text);
  absl::flat_hash_map<std::string, Term> terms_;
  std::vector<std::string> term_texts_;  // by id
  std::vector<ForwardEntry> forward_;
  std::vector<uint64_t> forward_begin_ = {0};  // by label, one more than chunk_lengths_
  std::vector<uint32_t> chunk_lengths_;        // by label
  LabelSet live_;
  int64_t live_chunks_ = 0;
  int64_t live_total_length_ = 0;
};

}  // namespace quarry

#endif  // QUARRY_INDEX_SEARCH_BM25_INDEX_H_
