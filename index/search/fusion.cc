#include "index/search/fusion.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "index/search/scored_label.h"

namespace quarry {
namespace {

// A fused candidate while scores are still being summed (in double, so the sum does not
// depend on float rounding order more than necessary).
struct Candidate {
  double score = 0;
  std::optional<float> dense_score;
  std::optional<float> lexical_score;
};

using Candidates = absl::flat_hash_map<int64_t, Candidate>;

enum class Source { kDense, kLexical };

// Calls add(candidate, position) for the first occurrence of each label in `list`; a label
// repeated by a retriever keeps its best (first) rank.
template <typename AddFn>
void Accumulate(absl::Span<const ScoredLabel> list, Source source, Candidates& candidates,
                AddFn add) {
  for (size_t position = 0; position < list.size(); ++position) {
    Candidate& candidate = candidates[list[position].label];
    std::optional<float>& own =
        source == Source::kDense ? candidate.dense_score : candidate.lexical_score;
    if (own.has_value()) continue;
    own = list[position].score;
    add(candidate, position);
  }
}

std::vector<FusedHit> Rank(const Candidates& candidates, int top_k) {
  std::vector<FusedHit> hits;
  hits.reserve(candidates.size());
  for (const auto& [label, candidate] : candidates) {
    hits.push_back({label, static_cast<float>(candidate.score), candidate.dense_score,
                    candidate.lexical_score});
  }
  // Compare the float that callers see, so equal visible scores are ordered by label.
  auto better = [](const FusedHit& a, const FusedHit& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.label < b.label;
  };
  const size_t keep = std::min(hits.size(), static_cast<size_t>(std::max(top_k, 0)));
  std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(keep), hits.end(),
                    better);
  hits.resize(keep);
  return hits;
}

// Min-max normalisation of one list. A list whose scores are all equal (including a single
// hit) has no spread to normalise by; its members are all "the best" of that list: 1.0.
class MinMax {
 public:
  explicit MinMax(absl::Span<const ScoredLabel> list) {
    if (list.empty()) return;
    min_ = max_ = list.front().score;
    for (const ScoredLabel& hit : list) {
      min_ = std::min<double>(min_, hit.score);
      max_ = std::max<double>(max_, hit.score);
    }
  }
  double operator()(float score) const {
    if (!(max_ > min_)) return 1.0;
    return (static_cast<double>(score) - min_) / (max_ - min_);
  }

 private:
  double min_ = 0;
  double max_ = 0;
};

}  // namespace

std::vector<FusedHit> FuseReciprocalRank(absl::Span<const ScoredLabel> dense,
                                         absl::Span<const ScoredLabel> lexical, int rrf_k,
                                         int top_k) {
  if (top_k <= 0) return {};
  // A negative constant would divide by zero at some rank.
  const double k = std::max(rrf_k, 0);
  Candidates candidates;
  candidates.reserve(dense.size() + lexical.size());
  auto add_rank = [k](Candidate& candidate, size_t position) {
    candidate.score += 1.0 / (k + static_cast<double>(position + 1));
  };
  Accumulate(dense, Source::kDense, candidates, add_rank);
  Accumulate(lexical, Source::kLexical, candidates, add_rank);
  return Rank(candidates, top_k);
}

std::vector<FusedHit> FuseWeighted(absl::Span<const ScoredLabel> dense,
                                   absl::Span<const ScoredLabel> lexical, float dense_weight,
                                   int top_k) {
  if (top_k <= 0) return {};
  // NaN would make every score NaN and the ordering undefined; treat it as no preference.
  const double w = std::isnan(dense_weight) ? 0.5 : std::clamp<double>(dense_weight, 0.0, 1.0);
  Candidates candidates;
  candidates.reserve(dense.size() + lexical.size());
  const MinMax dense_norm(dense);
  const MinMax lexical_norm(lexical);
  Accumulate(dense, Source::kDense, candidates, [&](Candidate& candidate, size_t position) {
    candidate.score += w * dense_norm(dense[position].score);
  });
  Accumulate(lexical, Source::kLexical, candidates, [&](Candidate& candidate, size_t position) {
    candidate.score += (1.0 - w) * lexical_norm(lexical[position].score);
  });
  return Rank(candidates, top_k);
}

}  // namespace quarry
