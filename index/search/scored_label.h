// A retrieval result inside the core: a chunk label and its score (higher is better).
#ifndef QUARRY_INDEX_SEARCH_SCORED_LABEL_H_
#define QUARRY_INDEX_SEARCH_SCORED_LABEL_H_

#include <cstdint>

namespace quarry {

struct ScoredLabel {
  int64_t label = 0;
  float score = 0;
};

}  // namespace quarry

#endif  // QUARRY_INDEX_SEARCH_SCORED_LABEL_H_
