// Fuses dense and lexical candidate lists into one ranking.
//   RRF:      score = sum over lists of 1 / (k + rank), rank from 1.
//   Weighted: score = w * minmax(dense) + (1 - w) * minmax(lexical); a list a label is
//             missing from contributes 0.
// Ties break by label, ascending, so results are deterministic.
#ifndef QUARRY_INDEX_SEARCH_FUSION_H_
#define QUARRY_INDEX_SEARCH_FUSION_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/types/span.h"
#include "index/search/scored_label.h"

namespace quarry {

struct FusedHit {
  int64_t label = 0;
  float score = 0;
  std::optional<float> dense_score;
  std::optional<float> lexical_score;
};

// Inputs are best-first lists. Returns at most `top_k` hits, best first.
std::vector<FusedHit> FuseReciprocalRank(absl::Span<const ScoredLabel> dense,
                                         absl::Span<const ScoredLabel> lexical, int rrf_k,
                                         int top_k);
std::vector<FusedHit> FuseWeighted(absl::Span<const ScoredLabel> dense,
                                   absl::Span<const ScoredLabel> lexical, float dense_weight,
                                   int top_k);

}  // namespace quarry

#endif  // QUARRY_INDEX_SEARCH_FUSION_H_
