// Maximal marginal relevance (Carbonell & Goldstein, 1998): picks hits one at a time, each the
// candidate that maximises
//   lambda * relevance - (1 - lambda) * (highest cosine similarity to a hit already picked),
// so a near-duplicate of a picked chunk drops behind a slightly less relevant but new one.
// Relevance is the candidates' scores scaled to [0, 1] (score / best for non-negative scores,
// else min-max), since BM25, fused and inner-product scores have different scales and cosine
// similarity is in [-1, 1]: lambda means the same in every mode.
// lambda = 1 keeps the relevance order.
//
// At most `max_per_group` candidates of one group (a document) are picked; 0 means no limit.
#ifndef QUARRY_INDEX_SEARCH_MMR_H_
#define QUARRY_INDEX_SEARCH_MMR_H_

#include <cstddef>
#include <vector>

#include "absl/types/span.h"

namespace quarry {

struct MmrOptions {
  float lambda = 0.5f;  // in (0, 1]
  size_t k = 10;        // hits to pick
  int max_per_group = 0;
};

// `scores`: n relevance scores, any scale, best first or not. `vectors`: n x dimension,
// row-major. `groups`: n group ids (any integers), or empty for no grouping. Returns the
// indexes of the picked candidates in pick order.
std::vector<size_t> SelectMaximalMarginalRelevance(absl::Span<const float> scores,
                                                   absl::Span<const float> vectors, int dimension,
                                                   absl::Span<const int64_t> groups,
                                                   const MmrOptions& options);

}  // namespace quarry

#endif  // QUARRY_INDEX_SEARCH_MMR_H_
