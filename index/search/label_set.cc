#include "index/search/label_set.h"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace quarry {

void LabelSet::Insert(int64_t label) {
  // A negative label has no bit; Contains() already answers false for it.
  if (label < 0) return;
  const uint64_t index = static_cast<uint64_t>(label);
  const size_t word = static_cast<size_t>(index >> 6);
  const uint64_t bit = uint64_t{1} << (index & 63);
  // resize() grows capacity geometrically, so appending labels in order stays amortised O(1).
  if (word >= words_.size()) words_.resize(word + 1, 0);
  if ((words_[word] & bit) == 0) {
    words_[word] |= bit;
    ++size_;
  }
}

void LabelSet::Erase(int64_t label) {
  if (label < 0) return;
  const uint64_t index = static_cast<uint64_t>(label);
  const size_t word = static_cast<size_t>(index >> 6);
  if (word >= words_.size()) return;
  const uint64_t bit = uint64_t{1} << (index & 63);
  if ((words_[word] & bit) != 0) {
    words_[word] &= ~bit;
    --size_;
  }
}

std::vector<int64_t> LabelSet::ToVector() const {
  std::vector<int64_t> labels;
  labels.reserve(static_cast<size_t>(size_));
  for (size_t word = 0; word < words_.size(); ++word) {
    uint64_t bits = words_[word];
    while (bits != 0) {
      const int bit = std::countr_zero(bits);
      labels.push_back(static_cast<int64_t>(word * 64 + static_cast<size_t>(bit)));
      bits &= bits - 1;
    }
  }
  return labels;
}

}  // namespace quarry
