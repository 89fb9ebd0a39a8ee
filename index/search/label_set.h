// A set of chunk labels as a bitmap with a population count. Retrievers search only inside
// such a set: it is how deletions and metadata filters reach candidate generation (FAISS ID
// selectors, posting-list skipping) instead of being applied after it.
#ifndef QUARRY_INDEX_SEARCH_LABEL_SET_H_
#define QUARRY_INDEX_SEARCH_LABEL_SET_H_

#include <cstdint>
#include <vector>

namespace quarry {

class LabelSet {
 public:
  LabelSet() = default;

  bool Contains(int64_t label) const {
    const uint64_t index = static_cast<uint64_t>(label);
    return label >= 0 && (index >> 6) < words_.size() && ((words_[index >> 6] >> (index & 63)) & 1);
  }
  void Insert(int64_t label);
  void Erase(int64_t label);
  // Number of labels in the set.
  int64_t size() const { return size_; }
  // One past the largest label the bitmap has room for.
  int64_t capacity() const { return static_cast<int64_t>(words_.size()) * 64; }
  // The labels in increasing order.
  std::vector<int64_t> ToVector() const;

 private:
  std::vector<uint64_t> words_;
  int64_t size_ = 0;
};

}  // namespace quarry

#endif  // QUARRY_INDEX_SEARCH_LABEL_SET_H_
