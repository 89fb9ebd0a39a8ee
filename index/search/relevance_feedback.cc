#include "index/search/relevance_feedback.h"

#include <algorithm>
#include <cstddef>

#include "absl/container/flat_hash_map.h"

namespace quarry {
namespace {

using TermWeights = absl::flat_hash_map<std::string, double>;

// Heaviest first, then alphabetical: deterministic whatever the map's order.
std::vector<WeightedTerm> Sorted(const TermWeights& weights) {
  std::vector<WeightedTerm> sorted;
  sorted.reserve(weights.size());
  for (const auto& [term, weight] : weights) sorted.push_back({term, weight});
  std::sort(sorted.begin(), sorted.end(), [](const WeightedTerm& a, const WeightedTerm& b) {
    return a.weight != b.weight ? a.weight > b.weight : a.term < b.term;
  });
  return sorted;
}

}  // namespace

std::vector<WeightedTerm> ExpandQuery(absl::Span<const std::string> query_terms,
                                      absl::Span<const FeedbackChunk> feedback,
                                      const RelevanceFeedbackParams& params) {
  TermWeights original;
  for (const std::string& term : query_terms) {
    original[term] += 1.0 / static_cast<double>(query_terms.size());
  }
  double total_score = 0;
  for (const FeedbackChunk& chunk : feedback) {
    if (chunk.score > 0 && !chunk.terms.empty()) total_score += chunk.score;
  }
  if (total_score <= 0 || params.terms <= 0) return Sorted(original);

  TermWeights relevance;
  for (const FeedbackChunk& chunk : feedback) {
    if (chunk.score <= 0 || chunk.terms.empty()) continue;
    const double share =
        chunk.score / total_score / static_cast<double>(chunk.terms.size());  // × tf below
    for (const std::string& term : chunk.terms) relevance[term] += share;
  }
  std::vector<WeightedTerm> expansion = Sorted(relevance);
  expansion.resize(std::min(expansion.size(), static_cast<size_t>(params.terms)));
  double kept = 0;
  for (const WeightedTerm& term : expansion) kept += term.weight;

  TermWeights expanded;
  for (const auto& [term, weight] : original) expanded[term] += params.original_weight * weight;
  for (const WeightedTerm& term : expansion) {
    expanded[term.term] += (1.0 - params.original_weight) * term.weight / kept;
  }
  return Sorted(expanded);
}

}  // namespace quarry
