#include "index/search/bm25_index.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "index/search/label_set.h"
#include "index/search/scored_label.h"

namespace quarry {
namespace {

// Higher score first; equal scores by label so results are deterministic.
bool Better(const ScoredLabel& a, const ScoredLabel& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.label < b.label;
}

uint32_t ClampToUint32(size_t n) {
  return static_cast<uint32_t>(std::min<size_t>(n, std::numeric_limits<uint32_t>::max()));
}

}  // namespace

void Bm25Index::Add(int64_t label, absl::Span<const std::string> terms) {
  // Out-of-order or repeated labels break the precondition; ignoring them keeps the
  // statistics consistent instead of counting a chunk twice.
  if (label < 0 || label < static_cast<int64_t>(chunk_lengths_.size())) return;
  const uint32_t length = ClampToUint32(terms.size());
  chunk_lengths_.resize(static_cast<size_t>(label) + 1, 0);
  chunk_lengths_[static_cast<size_t>(label)] = length;

  absl::flat_hash_map<absl::string_view, uint32_t> frequencies;
  frequencies.reserve(terms.size());
  for (const std::string& term : terms) ++frequencies[term];
  for (const auto& [term, frequency] : frequencies) {
    Term& entry = terms_[term];
    entry.postings.push_back({label, frequency});
    ++entry.live_document_frequency;
  }
  live_.Insert(label);
  ++live_chunks_;
  live_total_length_ += length;
}

void Bm25Index::Remove(int64_t label, absl::Span<const std::string> terms) {
  // Removing twice must not subtract twice.
  if (!live_.Contains(label)) return;
  absl::flat_hash_set<absl::string_view> distinct(terms.begin(), terms.end());
  for (const absl::string_view term : distinct) {
    const auto it = terms_.find(term);
    if (it != terms_.end() && it->second.live_document_frequency > 0) {
      --it->second.live_document_frequency;
    }
  }
  // Postings stay (they are skipped through live_); compaction rebuilds the index anyway.
  live_.Erase(label);
  --live_chunks_;
  live_total_length_ -= chunk_lengths_[static_cast<size_t>(label)];
}

std::vector<ScoredLabel> Bm25Index::Search(absl::Span<const std::string> query_terms, int k,
                                           const Bm25Params& params,
                                           const LabelSet* allowed) const {
  if (k <= 0 || live_chunks_ == 0) return {};
  const double chunks = static_cast<double>(live_chunks_);
  const double average_length = static_cast<double>(live_total_length_) / chunks;
  // All live chunks empty: no posting can match, but avoid dividing by zero below.
  const double inverse_average_length = average_length > 0 ? 1.0 / average_length : 0.0;
  const double k1 = params.k1;
  const double b = params.b;

  // Sparse accumulator: its size follows the matching postings, not the corpus.
  absl::flat_hash_map<int64_t, double> accumulator;
  absl::flat_hash_set<absl::string_view> seen;
  for (const std::string& query_term : query_terms) {
    // A repeated query term counts once.
    if (!seen.insert(query_term).second) continue;
    const auto it = terms_.find(query_term);
    if (it == terms_.end() || it->second.live_document_frequency <= 0) continue;
    const double df = static_cast<double>(it->second.live_document_frequency);
    const double idf = std::log(1.0 + (chunks - df + 0.5) / (df + 0.5));
    for (const Posting& posting : it->second.postings) {
      if (!live_.Contains(posting.label)) continue;
      if (allowed != nullptr && !allowed->Contains(posting.label)) continue;
      const double tf = posting.term_frequency;
      const double length = chunk_lengths_[static_cast<size_t>(posting.label)];
      const double norm = k1 * (1.0 - b + b * length * inverse_average_length);
      accumulator[posting.label] += idf * tf * (k1 + 1.0) / (tf + norm);
    }
  }

  std::vector<ScoredLabel> hits;
  hits.reserve(accumulator.size());
  for (const auto& [label, score] : accumulator) {
    hits.push_back({label, static_cast<float>(score)});
  }
  const size_t keep = std::min(hits.size(), static_cast<size_t>(k));
  std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(keep), hits.end(),
                    Better);
  hits.resize(keep);
  return hits;
}

}  // namespace quarry
