#include "index/embed/hashing_embedder.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/memory/memory.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "index/text/normalize.h"
#include "index/text/utf8.h"

namespace quarry {
namespace {

constexpr int kMinDimension = 2;
constexpr int kMaxDimension = 8192;

// Each family is scaled to this share of the vector's norm, so the mix does not depend on how
// many features of each kind a text has. Chosen on SciFact's train queries at 768 dimensions:
// character n-grams add the most (they also favour long, rarer words, standing in for the IDF
// a stateless embedder cannot know); bigrams only break ties between phrases, since at this
// dimension their extra collisions cost more than they add.
constexpr float kUnigramWeight = 1.0f;
constexpr float kBigramWeight = 0.2f;
constexpr float kCharNgramWeight = 1.2f;

constexpr size_t kMinNgram = 3;
constexpr size_t kMaxNgram = 5;

// Per-family seeds, so the same string in two families lands in unrelated buckets. Changing
// any of these (or the hash) changes every vector: existing indexes would need rebuilding.
constexpr uint64_t kUnigramSeed = 0x9E3779B97F4A7C15ULL;
constexpr uint64_t kBigramSeed = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t kCharNgramSeed = 0x165667B19E3779F9ULL;

// MurmurHash3's 64-bit finalizer: spreads FNV's weak high bits over the whole word.
uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 33;
  return h;
}

// FNV-1a over the bytes, then mixed. Stable across builds and processes (unlike absl::Hash),
// which the vectors stored in shards depend on.
uint64_t Hash(std::string_view bytes, uint64_t seed) {
  uint64_t h = 0xCBF29CE484222325ULL ^ seed;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ULL;
  }
  return Mix(h);
}

uint64_t HashPair(uint64_t first, uint64_t second, uint64_t seed) {
  return Mix(first * 0x9DDFEA08EB382D69ULL + second + seed);
}

double TfWeight(uint32_t count) { return count == 1 ? 1.0 : 1.0 + std::log(count); }

// Counts distinct feature hashes, remembering them in first-seen order and the highest weight
// each came with. Open addressing with linear probing keeps counting linear in the number of
// features; sorting them instead took most of the embedder's time.
class FeatureCounts {
 public:
  // Counts `hashes` (with `weights`, one per hash; empty: all 1), replacing what was counted
  // before.
  void Count(const std::vector<uint64_t>& hashes, const std::vector<float>& weights) {
    size_t capacity = 16;
    while (capacity < 2 * hashes.size()) capacity *= 2;
    slots_.assign(capacity, Slot{});
    distinct_.clear();
    const size_t mask = capacity - 1;
    for (size_t f = 0; f < hashes.size(); ++f) {
      uint64_t h = hashes[f] | static_cast<uint64_t>(hashes[f] == 0);  // 0 marks an empty slot
      size_t i = static_cast<size_t>(h >> 8) & mask;
      while (slots_[i].hash != 0 && slots_[i].hash != h) i = (i + 1) & mask;
      if (slots_[i].hash == 0) {
        slots_[i].hash = h;
        distinct_.push_back(static_cast<uint32_t>(i));
      }
      ++slots_[i].count;
      slots_[i].weight = std::max(slots_[i].weight, weights.empty() ? 1.0f : weights[f]);
    }
  }

  template <typename Fn>
  void ForEach(Fn fn) const {
    for (uint32_t i : distinct_) fn(slots_[i].hash, TfWeight(slots_[i].count) * slots_[i].weight);
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t count = 0;
    float weight = 0;
  };
  std::vector<Slot> slots_;
  std::vector<uint32_t> distinct_;
};

// Weights each distinct feature by 1 + log(tf) times its weight, scales the family to
// `family_weight` in L2 norm, and adds it to `out` with the hash's low bit as the sign and its
// high 32 bits as the bucket.
void AddFamily(const std::vector<uint64_t>& hashes, const std::vector<float>& weights,
               float family_weight, int dimension, FeatureCounts& counts, float* out) {
  if (hashes.empty()) return;
  counts.Count(hashes, weights);
  double sum_squares = 0;
  counts.ForEach([&](uint64_t, double weight) { sum_squares += weight * weight; });
  if (sum_squares == 0) return;
  const double scale = family_weight / std::sqrt(sum_squares);
  counts.ForEach([&](uint64_t h, double feature_weight) {
    const double weight = feature_weight * scale;
    const size_t bucket = static_cast<size_t>(((h >> 32) * static_cast<uint64_t>(dimension)) >> 32);
    out[bucket] += static_cast<float>((h & 1) ? -weight : weight);
  });
}

// Character n-grams of `word` marked as "<word>", counted in code points so that a letter
// outside ASCII is one character. Hashed straight from the marked word's bytes.
void AddCharNgrams(std::string_view word, std::string& marked, std::vector<uint64_t>& hashes) {
  marked.clear();
  marked.push_back('<');
  marked.append(word);
  marked.push_back('>');
  // Byte offset of each code point, plus the end. Words are at most kMaxTermBytes bytes.
  size_t offsets[text::kMaxTermBytes + 3];
  size_t count = 0;
  for (size_t i = 0; i < marked.size(); ++i) {
    if ((static_cast<unsigned char>(marked[i]) & 0xC0) != 0x80) offsets[count++] = i;
  }
  offsets[count] = marked.size();
  const std::string_view view = marked;
  for (size_t n = kMinNgram; n <= kMaxNgram && n <= count; ++n) {
    for (size_t first = 0; first + n <= count; ++first) {
      hashes.push_back(
          Hash(view.substr(offsets[first], offsets[first + n] - offsets[first]), kCharNgramSeed));
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<HashingEmbedder>> HashingEmbedder::Create(
    const HashingEmbedderOptions& options) {
  if (options.dimension < kMinDimension || options.dimension > kMaxDimension) {
    return absl::InvalidArgumentError(absl::StrCat("embedding dimension must be in [",
                                                   kMinDimension, ", ", kMaxDimension, "], got ",
                                                   options.dimension));
  }
  return absl::WrapUnique(new HashingEmbedder(options.dimension));
}

absl::StatusOr<std::vector<float>> HashingEmbedder::Embed(
    absl::Span<const std::string_view> texts) const {
  for (size_t i = 0; i < texts.size(); ++i) {
    if (!text::IsValidUtf8(texts[i])) {
      return absl::InvalidArgumentError(absl::StrCat("text ", i, " is not valid UTF-8"));
    }
  }
  std::vector<float> matrix(texts.size() * static_cast<size_t>(dimension_));
  for (size_t i = 0; i < texts.size(); ++i) {
    EmbedOne(texts[i], matrix.data() + i * static_cast<size_t>(dimension_));
  }
  return matrix;
}

void HashingEmbedder::EmbedOne(std::string_view text, float* out) const {
  EmbedTerms(text, analyzer_.Terms(text), {}, out);
}

absl::StatusOr<std::vector<float>> HashingEmbedder::EmbedQuery(
    std::string_view text, absl::FunctionRef<float(std::string_view term)> term_weight,
    const remote::CallControl& /*caller: computed in process*/) const {
  if (!text::IsValidUtf8(text)) return absl::InvalidArgumentError("text 0 is not valid UTF-8");
  const std::vector<std::string> terms = analyzer_.Terms(text);
  std::vector<float> weights;
  weights.reserve(terms.size());
  for (const std::string& term : terms) weights.push_back(std::max(0.0f, term_weight(term)));
  std::vector<float> vector(static_cast<size_t>(dimension_));
  EmbedTerms(text, terms, weights, vector.data());
  return vector;
}

void HashingEmbedder::EmbedTerms(std::string_view text, const std::vector<std::string>& terms,
                                 const std::vector<float>& term_weights, float* out) const {
  std::fill(out, out + dimension_, 0.0f);
  const bool weighted = !term_weights.empty();
  std::vector<uint64_t> unigrams;
  std::vector<uint64_t> others;
  std::vector<float> other_weights;
  unigrams.reserve(terms.size());
  others.reserve(terms.size() * 12);
  for (const std::string& term : terms) unigrams.push_back(Hash(term, kUnigramSeed));
  for (size_t i = 1; i < unigrams.size(); ++i) {
    others.push_back(HashPair(unigrams[i - 1], unigrams[i], kBigramSeed));
    if (weighted) other_weights.push_back(0.5f * (term_weights[i - 1] + term_weights[i]));
  }
  FeatureCounts counts;
  AddFamily(unigrams, term_weights, kUnigramWeight, dimension_, counts, out);
  AddFamily(others, other_weights, kBigramWeight, dimension_, counts, out);

  // Content words and terms correspond one to one, in order (text::Analyzer).
  others.clear();
  other_weights.clear();
  std::string marked;
  size_t word = 0;
  text::ForEachContentWord(text, [&](std::string_view folded) {
    AddCharNgrams(folded, marked, others);
    if (weighted) other_weights.resize(others.size(), term_weights[word]);
    ++word;
  });
  AddFamily(others, other_weights, kCharNgramWeight, dimension_, counts, out);

  double sum_squares = 0;
  for (int i = 0; i < dimension_; ++i) sum_squares += static_cast<double>(out[i]) * out[i];
  if (sum_squares == 0) return;  // no features: the zero vector, which matches nothing
  const float inverse_norm = static_cast<float>(1.0 / std::sqrt(sum_squares));
  for (int i = 0; i < dimension_; ++i) out[i] *= inverse_norm;
}

}  // namespace quarry
