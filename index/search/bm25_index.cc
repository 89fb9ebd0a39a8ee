#include "index/search/bm25_index.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "index/search/label_set.h"
#include "index/search/scored_label.h"
#include "index/store/binary_codec.h"

namespace quarry {
namespace {

// Searches whose postings number at least 1/kDenseAccumulatorRatio of the index's labels sum
// scores in an array by label rather than a hash map.
constexpr size_t kDenseAccumulatorRatio = 8;

// Higher score first; equal scores by label so results are deterministic.
bool Better(const ScoredLabel& a, const ScoredLabel& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.label < b.label;
}

uint32_t ClampToUint32(size_t n) {
  return static_cast<uint32_t>(std::min<size_t>(n, std::numeric_limits<uint32_t>::max()));
}

// Serialized format v1 (little-endian; varint is LEB128):
//   u32 magic "QB25", u32 version = 1
//   varint label count L, then L x varint chunk length (terms in the chunk)
//   ceil(L / 64) x u64 live bitmap words (bit i % 64 of word i / 64: label i is live)
//   varint term count, then the terms in increasing byte order, each:
//     varint length, bytes, varint posting count P >= 1,
//     P x (varint label gap, varint term frequency >= 1); the first gap is the label itself,
//     later ones are label - previous label - 1 (labels strictly increase)
// Only live labels have postings, and a live chunk's term frequencies add up to its length:
// the decoder checks both, so most corruption a checksum might miss still fails loudly.
static_assert(std::endian::native == std::endian::little,
              "bm25_index.cc writes its words in host order");
constexpr uint32_t kMagic = 0x35324251;  // "QB25"
constexpr uint32_t kVersion = 1;
// The fewest bytes a serialized term takes (empty text, one posting of two one-byte varints).
constexpr uint64_t kMinTermBytes = 4;
constexpr uint64_t kMinPostingBytes = 2;

using binary_codec::ByteReader;
using binary_codec::ByteWriter;

}  // namespace

int64_t Bm25Index::document_frequency(absl::string_view term) const {
  const auto it = terms_.find(term);
  return it == terms_.end() ? 0 : it->second.live_document_frequency;
}

std::string Bm25Index::Serialize() const {
  std::string out;
  ByteWriter writer(&out);
  writer.PutFixed(kMagic);
  writer.PutFixed(kVersion);
  writer.PutVarint(chunk_lengths_.size());
  for (const uint32_t length : chunk_lengths_) writer.PutVarint(length);
  const size_t labels = chunk_lengths_.size();
  for (size_t word = 0; word < (labels + 63) / 64; ++word) {
    uint64_t bits = 0;
    for (size_t bit = 0; bit < 64 && word * 64 + bit < labels; ++bit) {
      if (live_.Contains(static_cast<int64_t>(word * 64 + bit))) bits |= uint64_t{1} << bit;
    }
    writer.PutFixed(bits);
  }

  // Terms with live postings, in byte order, with their live posting counts.
  struct LiveTerm {
    absl::string_view text;
    const Term* term;
    uint64_t postings;
  };
  std::vector<LiveTerm> live_terms;
  live_terms.reserve(terms_.size());
  for (const auto& [text, term] : terms_) {
    uint64_t postings = 0;
    for (const Posting& posting : term.postings) postings += live_.Contains(posting.label);
    if (postings > 0) live_terms.push_back({text, &term, postings});
  }
  std::sort(live_terms.begin(), live_terms.end(),
            [](const LiveTerm& a, const LiveTerm& b) { return a.text < b.text; });
  writer.PutVarint(live_terms.size());
  for (const auto& [text, term, postings] : live_terms) {
    writer.PutString(text);
    writer.PutVarint(postings);
    int64_t next = 0;  // the smallest label the next posting may have
    for (const Posting& posting : term->postings) {
      if (!live_.Contains(posting.label)) continue;
      writer.PutVarint(static_cast<uint64_t>(int64_t{posting.label} - next));
      writer.PutVarint(posting.term_frequency);
      next = int64_t{posting.label} + 1;
    }
  }
  return out;
}

absl::StatusOr<Bm25Index> Bm25Index::Deserialize(absl::string_view bytes) {
  ByteReader in(bytes, "lexical index");
  uint32_t magic = 0;
  uint32_t version = 0;
  if (absl::Status s = in.Fixed("magic", &magic); !s.ok()) return s;
  if (magic != kMagic) return in.Error("bad magic (not a lexical index)");
  if (absl::Status s = in.Fixed("version", &version); !s.ok()) return s;
  if (version != kVersion) return in.Error(absl::StrCat("unknown version ", version));

  Bm25Index index;
  uint64_t labels = 0;
  if (absl::Status s = in.Count("label count", 1, &labels); !s.ok()) return s;
  if (labels > uint64_t{std::numeric_limits<uint32_t>::max()} + 1) {
    return in.Error("more labels than 32 bits address");
  }
  index.chunk_lengths_.resize(labels);
  for (uint64_t label = 0; label < labels; ++label) {
    uint64_t length = 0;
    if (absl::Status s = in.Varint("chunk length", &length); !s.ok()) return s;
    if (length > std::numeric_limits<uint32_t>::max()) return in.Error("chunk length overflow");
    index.chunk_lengths_[label] = static_cast<uint32_t>(length);
  }
  const uint64_t words = (labels + 63) / 64;
  if (words > in.remaining() / sizeof(uint64_t)) return in.Error("truncated live bitmap");
  for (uint64_t word = 0; word < words; ++word) {
    uint64_t bits = 0;
    if (absl::Status s = in.Fixed("live bitmap", &bits); !s.ok()) return s;
    if (word == words - 1 && labels % 64 != 0 && (bits >> (labels % 64)) != 0) {
      return in.Error("live bitmap marks labels past the label count");
    }
    for (; bits != 0; bits &= bits - 1) {
      const int64_t label = static_cast<int64_t>(word * 64) + std::countr_zero(bits);
      index.live_.Insert(label);
      ++index.live_chunks_;
      index.live_total_length_ += index.chunk_lengths_[static_cast<size_t>(label)];
    }
  }

  uint64_t term_count = 0;
  if (absl::Status s = in.Count("term count", kMinTermBytes, &term_count); !s.ok()) return s;
  index.terms_.reserve(term_count);
  // Per live label, the term frequencies seen so far: they must add up to its length.
  std::vector<uint64_t> frequency_sums(labels, 0);
  absl::string_view previous;
  for (uint64_t t = 0; t < term_count; ++t) {
    uint64_t length = 0;
    absl::string_view text;
    if (absl::Status s = in.Varint("term length", &length); !s.ok()) return s;
    if (absl::Status s = in.Bytes("term", length, &text); !s.ok()) return s;
    if (t > 0 && text <= previous) return in.Error("terms out of order or repeated");
    previous = text;
    uint64_t postings = 0;
    if (absl::Status s = in.Count("posting count", kMinPostingBytes, &postings); !s.ok()) {
      return s;
    }
    if (postings == 0) return in.Error("term without postings");
    Term& term = index.FindOrAddTerm(text);
    term.postings.reserve(postings);
    term.live_document_frequency = static_cast<int64_t>(postings);
    uint64_t next = 0;
    for (uint64_t p = 0; p < postings; ++p) {
      uint64_t gap = 0;
      uint64_t frequency = 0;
      if (absl::Status s = in.Varint("posting label", &gap); !s.ok()) return s;
      if (absl::Status s = in.Varint("term frequency", &frequency); !s.ok()) return s;
      if (next >= labels || gap >= labels - next) return in.Error("posting label out of range");
      const uint64_t label = next + gap;
      if (!index.live_.Contains(static_cast<int64_t>(label))) {
        return in.Error("posting of a removed chunk");
      }
      if (frequency == 0 || frequency > index.chunk_lengths_[label] - frequency_sums[label]) {
        return in.Error("term frequency contradicts the chunk length");
      }
      frequency_sums[label] += frequency;
      term.postings.push_back({static_cast<uint32_t>(label), static_cast<uint32_t>(frequency)});
      next = label + 1;
    }
  }
  if (in.remaining() != 0) return in.Error(absl::StrCat(in.remaining(), " trailing bytes"));
  // The forward index: count each chunk's terms, then place them.
  index.forward_begin_.assign(labels + 1, 0);
  for (const auto& [text, term] : index.terms_) {
    for (const Posting& posting : term.postings) ++index.forward_begin_[posting.label + 1];
  }
  for (uint64_t label = 0; label < labels; ++label) {
    index.forward_begin_[label + 1] += index.forward_begin_[label];
  }
  index.forward_.resize(index.forward_begin_[labels]);
  std::vector<uint64_t> filled(index.forward_begin_.begin(), index.forward_begin_.end() - 1);
  for (const auto& [text, term] : index.terms_) {
    for (const Posting& posting : term.postings) {
      index.forward_[filled[posting.label]++] = {term.id, posting.term_frequency};
    }
  }
  for (uint64_t label = 0; label < labels; ++label) {
    if (index.live_.Contains(static_cast<int64_t>(label)) &&
        frequency_sums[label] != index.chunk_lengths_[label]) {
      return absl::DataLossError(absl::StrCat("lexical index: chunk ", label, " has length ",
                                              index.chunk_lengths_[label], " but ",
                                              frequency_sums[label], " term occurrences"));
    }
  }
  return index;
}

void Bm25Index::Add(int64_t label, absl::Span<const std::string> terms) {
  // Out-of-order or repeated labels break the precondition; ignoring them keeps the
  // statistics consistent instead of counting a chunk twice.
  if (label < 0 || label < static_cast<int64_t>(chunk_lengths_.size()) ||
      label > std::numeric_limits<uint32_t>::max()) {
    return;
  }
  const uint32_t length = ClampToUint32(terms.size());
  chunk_lengths_.resize(static_cast<size_t>(label) + 1, 0);
  chunk_lengths_[static_cast<size_t>(label)] = length;

  absl::flat_hash_map<absl::string_view, uint32_t> frequencies;
  frequencies.reserve(terms.size());
  for (const std::string& term : terms) ++frequencies[term];
  forward_begin_.resize(static_cast<size_t>(label) + 1, forward_.size());
  for (const auto& [term, frequency] : frequencies) {
    Term& entry = FindOrAddTerm(term);
    entry.postings.push_back({static_cast<uint32_t>(label), frequency});
    ++entry.live_document_frequency;
    forward_.push_back({entry.id, frequency});
  }
  forward_begin_.push_back(forward_.size());
  live_.Insert(label);
  ++live_chunks_;
  live_total_length_ += length;
}

void Bm25Index::Remove(int64_t label, absl::Span<const std::string> terms) {
  // Removing twice must not subtract twice.
  if (!live_.Contains(label)) return;
  absl::flat_hash_set<absl::string_view> distinct(terms.begin(), terms.end());
  for (const absl::string_view term : distinct) {
    const auto it = terms_.find(term);
    if (it != terms_.end() && it->second.live_document_frequency > 0) {
      --it->second.live_document_frequency;
    }
  }
  // Postings stay (they are skipped through live_); compaction rebuilds the index anyway.
  live_.Erase(label);
  --live_chunks_;
  live_total_length_ -= chunk_lengths_[static_cast<size_t>(label)];
}

Bm25Index::Term& Bm25Index::FindOrAddTerm(absl::string_view text) {
  const auto [it, added] = terms_.try_emplace(text);
  if (added) {
    it->second.id = static_cast<uint32_t>(term_texts_.size());
    term_texts_.emplace_back(text);
  }
  return it->second;
}

std::vector<std::pair<absl::string_view, uint32_t>> Bm25Index::ChunkTerms(int64_t label) const {
  std::vector<std::pair<absl::string_view, uint32_t>> terms;
  if (label < 0 || static_cast<uint64_t>(label) >= chunk_lengths_.size()) return terms;
  const size_t begin = forward_begin_[static_cast<size_t>(label)];
  const size_t end = forward_begin_[static_cast<size_t>(label) + 1];
  terms.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) {
    terms.emplace_back(term_texts_[forward_[i].term], forward_[i].term_frequency);
  }
  return terms;
}

double Bm25Statistics::Idf(absl::string_view term) const {
  const auto it = document_frequency.find(term);
  const double df = it == document_frequency.end() ? 0.0 : static_cast<double>(it->second);
  return std::log(1.0 + (static_cast<double>(chunks) - df + 0.5) / (df + 0.5));
}

void Bm25Index::AddStatistics(absl::Span<const std::string> query_terms,
                              Bm25Statistics* statistics) const {
  statistics->chunks += live_chunks_;
  statistics->total_length += live_total_length_;
  absl::flat_hash_set<absl::string_view> seen;
  for (const std::string& term : query_terms) {
    // A repeated query term counts once.
    if (seen.insert(term).second) statistics->document_frequency[term] += document_frequency(term);
  }
}

std::vector<ScoredLabel> Bm25Index::Search(absl::Span<const std::string> query_terms, int k,
                                           const Bm25Params& params, const LabelSet* allowed,
                                           const Bm25Statistics* statistics) const {
  std::vector<WeightedTerm> query;
  query.reserve(query_terms.size());
  for (const std::string& term : query_terms) query.push_back({term, 1.0});
  return Search(query, k, params, allowed, statistics);
}

std::vector<ScoredLabel> Bm25Index::Search(absl::Span<const WeightedTerm> query, int k,
                                           const Bm25Params& params, const LabelSet* allowed,
                                           const Bm25Statistics* statistics) const {
  Bm25Statistics own;
  if (statistics == nullptr) {
    std::vector<std::string> query_terms;
    query_terms.reserve(query.size());
    for (const WeightedTerm& term : query) query_terms.push_back(term.term);
    AddStatistics(query_terms, &own);
    statistics = &own;
  }
  if (k <= 0 || live_chunks_ == 0 || statistics->chunks == 0) return {};
  const double chunks = static_cast<double>(statistics->chunks);
  const double average_length = static_cast<double>(statistics->total_length) / chunks;
  // All live chunks empty: no posting can match, but avoid dividing by zero below.
  const double inverse_average_length = average_length > 0 ? 1.0 / average_length : 0.0;
  const double k1 = params.k1;
  const double b = params.b;

  struct QueryTerm {
    const std::vector<Posting>* postings;
    double idf;
  };
  std::vector<QueryTerm> matched_terms;
  size_t posting_count = 0;
  absl::flat_hash_set<absl::string_view> seen;
  for (const auto& [query_term, weight] : query) {
    // A repeated query term counts once.
    if (!seen.insert(query_term).second) continue;
    const auto it = terms_.find(query_term);
    if (it == terms_.end() || it->second.live_document_frequency <= 0) continue;
    const auto frequency = statistics->document_frequency.find(query_term);
    if (frequency == statistics->document_frequency.end() || frequency->second <= 0) continue;
    matched_terms.push_back({&it->second.postings, weight * statistics->Idf(query_term)});
    posting_count += it->second.postings.size();
  }
  // Accumulates one term's contribution for every live, allowed chunk it occurs in.
  const auto for_each_scored_posting = [&](const QueryTerm& term, auto&& add) {
    for (const Posting& posting : *term.postings) {
      if (!live_.Contains(posting.label)) continue;
      if (allowed != nullptr && !allowed->Contains(posting.label)) continue;
      const double tf = posting.term_frequency;
      const double length = chunk_lengths_[static_cast<size_t>(posting.label)];
      const double norm = k1 * (1.0 - b + b * length * inverse_average_length);
      add(posting.label, term.idf * tf * (k1 + 1.0) / (tf + norm));
    }
  };

  std::vector<ScoredLabel> hits;
  const size_t labels = chunk_lengths_.size();
  if (posting_count * kDenseAccumulatorRatio >= labels) {
    // Many postings for the index's size (common or many query terms, e.g. an expanded
    // query): an array indexed by label beats a hash map, and scores are summed in the same
    // order either way.
    std::vector<double> scores(labels, 0.0);
    std::vector<bool> touched(labels, false);
    for (const QueryTerm& term : matched_terms) {
      for_each_scored_posting(term, [&](int64_t label, double score) {
        scores[static_cast<size_t>(label)] += score;
        touched[static_cast<size_t>(label)] = true;
      });
    }
    for (size_t label = 0; label < labels; ++label) {
      if (touched[label])
        hits.push_back({static_cast<int64_t>(label), static_cast<float>(scores[label])});
    }
  } else {
    // Few postings: a sparse accumulator whose size follows them, not the index.
    absl::flat_hash_map<int64_t, double> accumulator;
    for (const QueryTerm& term : matched_terms) {
      for_each_scored_posting(term,
                              [&](int64_t label, double score) { accumulator[label] += score; });
    }
    hits.reserve(accumulator.size());
    for (const auto& [label, score] : accumulator) {
      hits.push_back({label, static_cast<float>(score)});
    }
  }
  const size_t keep = std::min(hits.size(), static_cast<size_t>(k));
  std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(keep), hits.end(),
                    Better);
  hits.resize(keep);
  return hits;
}

}  // namespace quarry
