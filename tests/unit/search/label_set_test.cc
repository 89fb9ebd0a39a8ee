#include "index/search/label_set.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

namespace quarry {
namespace {

TEST_CASE("An empty LabelSet holds nothing", "[label_set]") {
  LabelSet set;
  CHECK(set.size() == 0);
  CHECK(set.capacity() == 0);
  CHECK_FALSE(set.Contains(0));
  CHECK_FALSE(set.Contains(1000));
  CHECK(set.ToVector().empty());
}

TEST_CASE("LabelSet grows across word boundaries", "[label_set]") {
  LabelSet set;
  for (int64_t label : {0, 63, 64, 1000}) set.Insert(label);
  CHECK(set.size() == 4);
  CHECK(set.capacity() >= 1001);
  for (int64_t label : {0, 63, 64, 1000}) CHECK(set.Contains(label));
  for (int64_t label : {1, 62, 65, 127, 999, 1001, 5000}) CHECK_FALSE(set.Contains(label));
  CHECK(set.ToVector() == std::vector<int64_t>{0, 63, 64, 1000});
}

TEST_CASE("LabelSet inserts and erases are idempotent", "[label_set]") {
  LabelSet set;
  set.Insert(5);
  set.Insert(5);
  CHECK(set.size() == 1);
  set.Erase(5);
  CHECK(set.size() == 0);
  CHECK_FALSE(set.Contains(5));
  set.Erase(5);
  CHECK(set.size() == 0);
  // Erasing a label that was never there changes neither the count nor the bitmap.
  const int64_t capacity = set.capacity();
  set.Erase(1'000'000);
  CHECK(set.size() == 0);
  CHECK(set.capacity() == capacity);
}

TEST_CASE("LabelSet ignores negative labels", "[label_set]") {
  LabelSet set;
  set.Insert(-1);
  set.Erase(-7);
  CHECK(set.size() == 0);
  CHECK_FALSE(set.Contains(-1));
  CHECK(set.ToVector().empty());
}

TEST_CASE("LabelSet agrees with std::set under random operations", "[label_set]") {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int64_t> label(0, 2000);
  std::bernoulli_distribution insert(0.6);
  LabelSet set;
  std::set<int64_t> reference;
  for (int i = 0; i < 20'000; ++i) {
    const int64_t l = label(rng);
    if (insert(rng)) {
      set.Insert(l);
      reference.insert(l);
    } else {
      set.Erase(l);
      reference.erase(l);
    }
  }
  REQUIRE(set.size() == static_cast<int64_t>(reference.size()));
  CHECK(set.ToVector() == std::vector<int64_t>(reference.begin(), reference.end()));
  for (int64_t l = 0; l <= 2000; ++l) CHECK(set.Contains(l) == (reference.count(l) == 1));
}

}  // namespace
}  // namespace quarry
