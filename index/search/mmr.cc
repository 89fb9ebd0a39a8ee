#include "index/search/mmr.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"

namespace quarry {

std::vector<size_t> SelectMaximalMarginalRelevance(absl::Span<const float> scores,
                                                   absl::Span<const float> vectors, int dimension,
                                                   absl::Span<const int64_t> groups,
                                                   const MmrOptions& options) {
  const size_t n = scores.size();
  const size_t width = static_cast<size_t>(dimension);
  std::vector<double> relevance(scores.begin(), scores.end());
  if (n > 0) {
    const auto [low, high] = std::minmax_element(relevance.begin(), relevance.end());
    // Anchored at 0 when every score is positive, so the weakest candidate keeps the
    // relevance it has instead of dropping to none.
    const double min = std::min(0.0, *low);
    const double range = *high - min;
    for (double& r : relevance) r = range > 0 ? (r - min) / range : 1.0;
  }
  // Inverse norms, so that inner products become cosines whatever the collection's metric.
  std::vector<double> inverse_norm(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    double sum = 0;
    for (size_t d = 0; d < width; ++d)
      sum += double{vectors[i * width + d]} * vectors[i * width + d];
    inverse_norm[i] = sum > 0 ? 1.0 / std::sqrt(sum) : 0.0;
  }

  std::vector<size_t> picked;
  std::vector<bool> taken(n, false);
  // Highest similarity of each candidate to the picked ones; none picked yet.
  std::vector<double> redundancy(n, -std::numeric_limits<double>::infinity());
  absl::flat_hash_map<int64_t, int> per_group;
  const double lambda = options.lambda;
  while (picked.size() < options.k) {
    size_t best = n;
    double best_value = -std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < n; ++i) {
      if (taken[i]) continue;
      if (options.max_per_group > 0 && !groups.empty() &&
          per_group[groups[i]] >= options.max_per_group) {
        continue;
      }
      const double penalty = picked.empty() ? 0.0 : redundancy[i];
      const double value = lambda * relevance[i] - (1.0 - lambda) * penalty;
      if (value > best_value) {  // strict: ties keep the earlier (better-scored) candidate
        best_value = value;
        best = i;
      }
    }
    if (best == n) break;
    taken[best] = true;
    picked.push_back(best);
    if (!groups.empty()) ++per_group[groups[best]];
    const float* chosen = vectors.data() + best * width;
    for (size_t i = 0; i < n; ++i) {
      if (taken[i]) continue;
      double dot = 0;
      const float* candidate = vectors.data() + i * width;
      for (size_t d = 0; d < width; ++d) dot += double{chosen[d]} * candidate[d];
      redundancy[i] = std::max(redundancy[i], dot * inverse_norm[best] * inverse_norm[i]);
    }
  }
  return picked;
}

}  // namespace quarry
