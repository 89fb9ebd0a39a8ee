#include "index/collection.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "index/document_preparation.h"
#include "index/search/fusion.h"
#include "index/search/mmr.h"
#include "index/shard/shard.h"
#include "index/text/chunk_text.h"
#include "index/text/tokenizer.h"
#include "index/text/utf8.h"

namespace quarry {

namespace {

constexpr int kMaxCandidates = 10000;
// Feedback chunks are re-analyzed per query: keep that bounded.
constexpr int kMaxFeedbackDocuments = 100;
constexpr int kMaxFeedbackTerms = 1000;

double MillisecondsSince(absl::Time start) {
  return absl::ToDoubleMilliseconds(absl::Now() - start);
}

}  // namespace

namespace internal {

// The fresh index's view of a document; shared by its chunks.
struct FreshDocument {
  std::string id;
  std::string title;
  std::string text;
  Metadata metadata;
  std::vector<int64_t> labels;  // fresh labels, one per chunk, in chunk order
};

struct FreshChunk {
  std::shared_ptr<const FreshDocument> document;
  int chunk_index = 0;
  uint32_t start = 0;
  uint32_t end = 0;
};

// One loaded shard and which of its documents are still live (not replaced or deleted by a
// later shard or a log record).
struct ShardSlot {
  std::shared_ptr<const Shard> shard;
  int64_t base = 0;  // collection-wide label of the shard's label 0
  LabelSet live_chunks;
  LabelSet live_documents;
  int64_t live_text_bytes = 0;
  // BM25 statistics of the chunks hidden by newer records, which the shard's own index still
  // counts: subtracted so that scores match a collection that never held them.
  Bm25Statistics hidden_lexical;
};

// Everything served for one manifest generation: its shards, plus the fresh index of the log
// records after the manifest's log position. Labels are collection-wide: shard i's labels
// start at shards[i].base, the fresh index's at fresh_base.
struct CollectionState {
  uint64_t generation = 0;
  // Written only while the collection's write mutex is held, or before the state is published.
  LogPosition applied_through;
  std::vector<absl::Status> shard_errors;

  mutable absl::Mutex mutex;
  std::vector<ShardSlot> shards ABSL_GUARDED_BY(mutex);
  int64_t fresh_base ABSL_GUARDED_BY(mutex) = 0;
  absl::flat_hash_map<std::string, std::shared_ptr<const FreshDocument>> documents
      ABSL_GUARDED_BY(mutex);
  std::vector<FreshChunk> chunks ABSL_GUARDED_BY(mutex);  // by fresh label
  LabelSet live_chunks ABSL_GUARDED_BY(mutex);
  std::unique_ptr<DenseIndex> dense ABSL_GUARDED_BY(mutex);
  Bm25Index lexical ABSL_GUARDED_BY(mutex);
  int64_t text_bytes ABSL_GUARDED_BY(mutex) = 0;
};

}  // namespace internal

namespace {

using internal::CollectionState;
using internal::FreshChunk;
using internal::FreshDocument;
using internal::ShardSlot;

// A searchable part of a state (a shard or the fresh index) as one search sees it.
struct SegmentView {
  const DenseIndex* dense = nullptr;
  const Bm25Index* lexical = nullptr;
  const LabelSet* allowed = nullptr;  // live labels that pass the filter
  int64_t base = 0;
  LabelSet filtered;  // storage for `allowed` when there is a filter
};

void SortBestFirst(std::vector<ScoredLabel>& hits) {
  std::sort(hits.begin(), hits.end(), [](const ScoredLabel& a, const ScoredLabel& b) {
    return a.score != b.score ? a.score > b.score : a.label < b.label;
  });
}

void KillShardDocument(ShardSlot& slot, const text::Analyzer& analyzer, int32_t document_index) {
  if (!slot.live_documents.Contains(document_index)) return;
  const DocumentView document = slot.shard->document(document_index);
  slot.live_documents.Erase(document_index);
  for (int64_t i = 0; i < document.chunk_count; ++i) {
    slot.live_chunks.Erase(document.first_label + i);
    // The terms the shard builder indexed this chunk with.
    const ChunkView chunk = slot.shard->chunk(document.first_label + i);
    const std::vector<std::string> terms = analyzer.Terms(text::ChunkTextWithTitle(
        document.title, document.text.substr(chunk.start, chunk.end - chunk.start)));
    ++slot.hidden_lexical.chunks;
    slot.hidden_lexical.total_length += static_cast<int64_t>(terms.size());
    for (const std::string& term : absl::flat_hash_set<std::string>(terms.begin(), terms.end())) {
      ++slot.hidden_lexical.document_frequency[term];
    }
  }
  slot.live_text_bytes -= static_cast<int64_t>(document.text.size());
}

// A record about `id` hides every shard copy of it: the record is newer than every shard.
void HideInShards(CollectionState& state, const text::Analyzer& analyzer, absl::string_view id)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state.mutex) {
  for (ShardSlot& slot : state.shards) {
    if (std::optional<int32_t> index = slot.shard->FindDocument(id)) {
      KillShardDocument(slot, analyzer, *index);
    }
  }
}

std::vector<std::string> FreshLexicalTerms(const text::Analyzer& analyzer,
                                           const FreshDocument& document, const FreshChunk& chunk) {
  return analyzer.Terms(text::ChunkTextWithTitle(
      document.title,
      absl::string_view(document.text).substr(chunk.start, chunk.end - chunk.start)));
}

void RemoveFreshDocument(CollectionState& state, const text::Analyzer& analyzer,
                         const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(state.mutex) {
  auto it = state.documents.find(id);
  if (it == state.documents.end()) return;
  const FreshDocument& document = *it->second;
  for (int64_t label : document.labels) {
    state.live_chunks.Erase(label);
    state.lexical.Remove(
        label, FreshLexicalTerms(analyzer, document, state.chunks[static_cast<size_t>(label)]));
  }
  state.text_bytes -= static_cast<int64_t>(document.text.size());
  state.documents.erase(it);
}

absl::Status ApplyRecord(CollectionState& state, const text::Analyzer& analyzer, int dimension,
                         const LogRecord& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(state.mutex) {
  if (record.type == LogRecord::Type::kDelete) {
    for (const std::string& id : record.deleted_ids) {
      RemoveFreshDocument(state, analyzer, id);
      HideInShards(state, analyzer, id);
    }
    return absl::OkStatus();
  }
  for (const StoredDocument& stored : record.documents) {
    for (const StoredChunk& chunk : stored.chunks) {
      if (chunk.vector.size() != static_cast<size_t>(dimension) || chunk.end > stored.text.size() ||
          chunk.start > chunk.end) {
        return absl::DataLossError(absl::StrCat("log record for document '", stored.id,
                                                "' has a chunk that does not fit the collection"));
      }
    }
  }
  std::vector<float> vectors;
  for (const StoredDocument& stored : record.documents) {
    RemoveFreshDocument(state, analyzer, stored.id);
    HideInShards(state, analyzer, stored.id);
    auto document = std::make_shared<FreshDocument>();
    document->id = stored.id;
    document->title = stored.title;
    document->text = stored.text;
    document->metadata = stored.metadata;
    for (size_t i = 0; i < stored.chunks.size(); ++i) {
      document->labels.push_back(static_cast<int64_t>(state.chunks.size() + i));
    }
    for (size_t i = 0; i < stored.chunks.size(); ++i) {
      const StoredChunk& chunk = stored.chunks[i];
      const int64_t label = document->labels[i];
      state.chunks.push_back(FreshChunk{document, static_cast<int>(i), chunk.start, chunk.end});
      state.live_chunks.Insert(label);
      state.lexical.Add(label, FreshLexicalTerms(analyzer, *document, state.chunks.back()));
      vectors.insert(vectors.end(), chunk.vector.begin(), chunk.vector.end());
    }
    state.text_bytes += static_cast<int64_t>(document->text.size());
    state.documents[document->id] = std::move(document);
  }
  return state.dense->Add(vectors);
}

bool IsLive(const CollectionState& state, const std::string& id)
    ABSL_SHARED_LOCKS_REQUIRED(state.mutex) {
  if (state.documents.contains(id)) return true;
  for (const ShardSlot& slot : state.shards) {
    std::optional<int32_t> index = slot.shard->FindDocument(id);
    if (index.has_value() && slot.live_documents.Contains(*index)) return true;
  }
  return false;
}

// The k best of several segments' best-first lists, as collection-wide labels.
std::vector<ScoredLabel> MergeSegments(std::vector<std::vector<ScoredLabel>> per_segment,
                                       const std::vector<SegmentView>& segments, int k) {
  std::vector<ScoredLabel> merged;
  for (size_t i = 0; i < per_segment.size(); ++i) {
    for (ScoredLabel hit : per_segment[i]) {
      hit.label += segments[i].base;
      merged.push_back(hit);
    }
  }
  SortBestFirst(merged);
  if (static_cast<int>(merged.size()) > k) merged.resize(static_cast<size_t>(k));
  return merged;
}

// Collection-wide BM25 statistics of `terms`: every segment's, less the shard chunks that newer
// records hide.
Bm25Statistics CollectionBm25Statistics(const CollectionState& state,
                                        const std::vector<SegmentView>& segments,
                                        absl::Span<const std::string> terms)
    ABSL_SHARED_LOCKS_REQUIRED(state.mutex) {
  Bm25Statistics statistics;
  for (const SegmentView& segment : segments) segment.lexical->AddStatistics(terms, &statistics);
  for (const ShardSlot& slot : state.shards) {
    statistics.chunks -= slot.hidden_lexical.chunks;
    statistics.total_length -= slot.hidden_lexical.total_length;
    for (auto& [term, frequency] : statistics.document_frequency) {
      if (auto hidden = slot.hidden_lexical.document_frequency.find(term);
          hidden != slot.hidden_lexical.document_frequency.end()) {
        frequency -= hidden->second;
      }
    }
  }
  return statistics;
}

// The `depth` best allowed chunks of the collection for a BM25 query.
std::vector<ScoredLabel> SearchLexical(const std::vector<SegmentView>& segments,
                                       absl::Span<const WeightedTerm> query, int depth,
                                       const Bm25Params& params, const Bm25Statistics& statistics) {
  std::vector<std::vector<ScoredLabel>> per_segment(segments.size());
  for (size_t i = 0; i < segments.size(); ++i) {
    if (segments[i].allowed->size() == 0) continue;
    per_segment[i] =
        segments[i].lexical->Search(query, depth, params, segments[i].allowed, &statistics);
  }
  return MergeSegments(std::move(per_segment), segments, depth);
}

// The segment holding a collection-wide label: the one with the highest base at or below it.
const SegmentView& SegmentOf(const std::vector<SegmentView>& segments, int64_t label) {
  const SegmentView* holder = &segments.front();
  for (const SegmentView& segment : segments) {
    if (segment.base <= label && segment.base >= holder->base) holder = &segment;
  }
  return *holder;
}

// The shard slot holding a label below the fresh base: the last whose base is <= label.
const ShardSlot& ShardSlotOf(const CollectionState& state, int64_t label)
    ABSL_SHARED_LOCKS_REQUIRED(state.mutex) {
  auto slot = std::upper_bound(
      state.shards.begin(), state.shards.end(), label,
      [](int64_t value, const ShardSlot& candidate) { return value < candidate.base; });
  return *--slot;
}

// The analysed terms a chunk was indexed with (repeats kept, in no particular order), from its
// segment's BM25 index: the same words analysing its title and text again would give.
std::vector<std::string> IndexedTerms(const CollectionState& state, int64_t label)
    ABSL_SHARED_LOCKS_REQUIRED(state.mutex) {
  std::vector<std::pair<absl::string_view, uint32_t>> counts;
  if (label >= state.fresh_base) {
    counts = state.lexical.ChunkTerms(label - state.fresh_base);
  } else {
    const ShardSlot& slot = ShardSlotOf(state, label);
    counts = slot.shard->lexical().ChunkTerms(label - slot.base);
  }
  std::vector<std::string> terms;
  for (const auto& [term, frequency] : counts) {
    for (uint32_t i = 0; i < frequency; ++i) terms.emplace_back(term);
  }
  return terms;
}

// Reorders `candidates` (best first) by maximal marginal relevance over their stored vectors,
// keeping at most `top_k` and at most max_chunks_per_document of a document.
absl::StatusOr<std::vector<FusedHit>> Diversify(const CollectionState& state,
                                                const std::vector<SegmentView>& segments,
                                                std::vector<FusedHit> candidates,
                                                const SearchQuery& query)
    ABSL_SHARED_LOCKS_REQUIRED(state.mutex) {
  if (candidates.empty()) return candidates;
  const int dimension = segments.back().dense->dimension();
  std::vector<float> scores;
  std::vector<float> vectors;
  std::vector<int64_t> documents;
  absl::flat_hash_map<absl::string_view, int64_t> document_numbers;
  for (const FusedHit& candidate : candidates) {
    const SegmentView& segment = SegmentOf(segments, candidate.label);
    absl::StatusOr<std::vector<float>> vector =
        segment.dense->Reconstruct(candidate.label - segment.base, 1);
    if (!vector.ok()) return vector.status();
    vectors.insert(vectors.end(), vector->begin(), vector->end());
    scores.push_back(candidate.score);
    absl::string_view document;
    if (candidate.label >= state.fresh_base) {
      document = state.chunks[static_cast<size_t>(candidate.label - state.fresh_base)].document->id;
    } else {
      const ShardSlot& slot = ShardSlotOf(state, candidate.label);
      document =
          slot.shard->document(slot.shard->chunk(candidate.label - slot.base).document_index).id;
    }
    documents.push_back(
        document_numbers.emplace(document, static_cast<int64_t>(document_numbers.size()))
            .first->second);
  }
  MmrOptions options;
  options.lambda = query.mmr_lambda;
  options.k = static_cast<size_t>(query.top_k);
  options.max_per_group = query.max_chunks_per_document;
  std::vector<FusedHit> picked;
  for (size_t index :
       SelectMaximalMarginalRelevance(scores, vectors, dimension, documents, options)) {
    picked.push_back(candidates[index]);
  }
  return picked;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Collection>> Collection::Open(
    std::string directory, CollectionConfig config, std::shared_ptr<const Embedder> embedder,
    const CollectionLimits& limits, const IngestLogOptions& log_options,
    CollectionResources resources) {
  if (embedder == nullptr && config.embedder != EmbedderKind::kNone) {
    return absl::FailedPreconditionError(
        absl::StrCat("collection '", config.name, "' needs an embedder and none is available"));
  }
  if (embedder != nullptr && embedder->dimension() != config.dimension) {
    return absl::FailedPreconditionError(
        absl::StrCat("collection '", config.name, "' has dimension ", config.dimension,
                     " but its embedder produces ", embedder->dimension()));
  }
  absl::StatusOr<std::unique_ptr<IngestLogWriter>> writer =
      IngestLogWriter::Open(directory + "/log", log_options);
  if (!writer.ok()) return writer.status();
  std::unique_ptr<Collection> collection(new Collection(std::move(directory), std::move(config),
                                                        std::move(embedder), limits,
                                                        *std::move(writer), std::move(resources)));
  absl::StatusOr<Manifest> manifest = ReadManifest(collection->directory_);
  if (!manifest.ok()) return manifest.status();
  absl::StatusOr<std::shared_ptr<State>> state = collection->BuildState(*manifest, nullptr);
  if (!state.ok()) return state.status();
  absl::MutexLock lock(&collection->state_pointer_mutex_);
  collection->state_ = *std::move(state);
  return collection;
}

Collection::Collection(std::string directory, CollectionConfig config,
                       std::shared_ptr<const Embedder> embedder, const CollectionLimits& limits,
                       std::unique_ptr<IngestLogWriter> log_writer, CollectionResources resources)
    : directory_(std::move(directory)),
      config_(std::move(config)),
      embedder_(std::move(embedder)),
      limits_(limits),
      log_writer_(std::move(log_writer)),
      resources_(std::move(resources)) {}

Collection::~Collection() = default;

std::shared_ptr<Collection::State> Collection::CurrentState() const {
  absl::MutexLock lock(&state_pointer_mutex_);
  return state_;
}

absl::StatusOr<std::shared_ptr<Collection::State>> Collection::BuildState(
    const Manifest& manifest, const State* current) const {
  absl::StatusOr<std::unique_ptr<DenseIndex>> dense =
      DenseIndex::Create(config_.dimension, config_.index_spec, config_.metric);
  if (!dense.ok()) return dense.status();
  auto state = std::make_shared<State>();
  state->generation = manifest.generation;
  state->applied_through = manifest.log_position;
  {
    absl::MutexLock lock(&state->mutex);
    state->dense = *std::move(dense);
    int64_t base = 0;
    for (const ManifestShard& entry : manifest.shards) {
      std::shared_ptr<const Shard> shard;
      if (current != nullptr) {
        absl::ReaderMutexLock current_lock(&current->mutex);
        for (const ShardSlot& slot : current->shards) {
          if (slot.shard->id() == entry.id) shard = slot.shard;
        }
      }
      if (shard == nullptr) {
        absl::StatusOr<std::unique_ptr<Shard>> opened = Shard::Open(
            absl::StrCat(directory_, "/shards/", entry.id), config_.dimension, config_.metric);
        if (!opened.ok()) {
          // Serve the rest; this shard's documents are unavailable until it is rebuilt.
          state->shard_errors.push_back(absl::Status(
              opened.status().code(), absl::StrCat("collection '", config_.name, "' shard ",
                                                   entry.id, ": ", opened.status().message())));
          continue;
        }
        shard = *std::move(opened);
        if (resources_.huge_pages != nullptr) resources_.huge_pages->Add(shard);
      }
      ShardSlot slot;
      slot.shard = shard;
      slot.base = base;
      for (int64_t label = 0; label < shard->chunk_count(); ++label) slot.live_chunks.Insert(label);
      for (int32_t index = 0; index < shard->document_count(); ++index) {
        slot.live_documents.Insert(index);
        slot.live_text_bytes += static_cast<int64_t>(shard->document(index).text.size());
      }
      if (auto tombstones = manifest.tombstones.find(entry.id);
          tombstones != manifest.tombstones.end()) {
        for (const std::string& id : tombstones->second) {
          if (std::optional<int32_t> index = shard->FindDocument(id)) {
            KillShardDocument(slot, analyzer_, *index);
          }
        }
      }
      base += shard->chunk_count();
      state->shards.push_back(std::move(slot));
    }
    state->fresh_base = base;
  }
  if (absl::Status status = CatchUpState(*state); !status.ok()) return status;
  return state;
}

absl::Status Collection::CatchUpState(State& state) const {
  absl::StatusOr<LogPosition> position =
      IngestLogReader(directory_ + "/log")
          .ReadFrom(state.applied_through, [&](const LogRecord& record, LogPosition next) {
            absl::MutexLock lock(&state.mutex);
            if (absl::Status status = ApplyRecord(state, analyzer_, config_.dimension, record);
                !status.ok()) {
              return status;
            }
            state.applied_through = next;
            return absl::OkStatus();
          });
  if (!position.ok()) {
    return absl::Status(position.status().code(), absl::StrCat("collection '", config_.name,
                                                               "': ", position.status().message()));
  }
  state.applied_through = *position;
  return absl::OkStatus();
}

absl::Status Collection::CatchUp() {
  absl::StatusOr<Manifest> manifest = ReadManifest(directory_);
  if (!manifest.ok()) return manifest.status();
  std::shared_ptr<State> current = CurrentState();
  if (manifest->generation != current->generation) {
    // Load the new generation aside (shards may take a while), then catch it up with what
    // was written meanwhile and swap it in; searches never wait for the load.
    absl::StatusOr<std::shared_ptr<State>> next = BuildState(*manifest, current.get());
    if (!next.ok()) return next.status();
    absl::MutexLock lock(&write_mutex_);
    if (absl::Status status = CatchUpState(**next); !status.ok()) return status;
    absl::MutexLock pointer_lock(&state_pointer_mutex_);
    state_ = *std::move(next);
    return absl::OkStatus();
  }
  absl::MutexLock lock(&write_mutex_);
  return CatchUpState(*current);
}

std::vector<absl::Status> Collection::ShardErrors() const { return CurrentState()->shard_errors; }

absl::StatusOr<IngestResult> Collection::Ingest(std::vector<Document> documents) {
  if (absl::Status status =
          ValidateDocuments(documents, config_, limits_, /*has_embedder=*/embedder_ != nullptr);
      !status.ok()) {
    return status;
  }
  LogRecord record;
  record.type = LogRecord::Type::kUpsert;
  absl::StatusOr<std::vector<StoredDocument>> prepared =
      PrepareDocuments(std::move(documents), config_, embedder_.get());
  if (!prepared.ok()) return prepared.status();
  record.documents = *std::move(prepared);
  IngestResult result;
  for (const StoredDocument& document : record.documents) {
    result.ids.push_back(document.id);
    result.chunks += static_cast<int64_t>(document.chunks.size());
  }

  absl::MutexLock lock(&write_mutex_);
  absl::StatusOr<LogPosition> position = log_writer_->Append(record);
  if (!position.ok()) return position.status();
  if (absl::Status status = CatchUpState(*CurrentState()); !status.ok()) return status;
  return result;
}

absl::Status Collection::ValidateQuery(const SearchQuery& query) const {
  if (query.top_k < 1 || query.top_k > limits_.max_top_k) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k must be in 1..", limits_.max_top_k, ", got ", query.top_k));
  }
  const bool has_text = !query.text.empty();
  const bool has_vector = !query.vector.empty();
  if (has_text == has_vector) {
    return absl::InvalidArgumentError("query: exactly one of text and vector must be set");
  }
  if (has_text) {
    if (static_cast<int64_t>(query.text.size()) > limits_.max_query_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "query text is ", query.text.size(), " bytes; the limit is ", limits_.max_query_bytes));
    }
    if (!text::IsValidUtf8(query.text)) {
      return absl::InvalidArgumentError("query text is not valid UTF-8");
    }
  } else {
    if (static_cast<int>(query.vector.size()) != config_.dimension) {
      return absl::InvalidArgumentError(
          absl::StrCat("query vector has dimension ", query.vector.size(), "; collection '",
                       config_.name, "' has dimension ", config_.dimension));
    }
    if (!std::all_of(query.vector.begin(), query.vector.end(),
                     [](float x) { return std::isfinite(x); })) {
      return absl::InvalidArgumentError("query vector contains a NaN or infinite value");
    }
  }
  if (query.filter.has_value()) {
    if (absl::Status status = ValidateFilter(*query.filter); !status.ok()) return status;
  }
  if (query.rrf_k < 1) {
    return absl::InvalidArgumentError(absl::StrCat("hybrid.rrf_k must be >= 1, got ", query.rrf_k));
  }
  if (!(query.mmr_lambda >= 0 && query.mmr_lambda <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("diversity.mmr_lambda must be in (0, 1] (0: no MMR), got ", query.mmr_lambda));
  }
  if (!(query.dense_weight >= 0 && query.dense_weight <= 1)) {
    return absl::InvalidArgumentError("hybrid.dense_weight must be in [0, 1]");
  }
  if (query.candidates < 0 || query.candidates > kMaxCandidates) {
    return absl::InvalidArgumentError(
        absl::StrCat("hybrid.candidates must be in 0..", kMaxCandidates));
  }
  if (query.max_chunks_per_document < 0) {
    return absl::InvalidArgumentError("diversity.max_chunks_per_document must be >= 0");
  }
  if (!(query.bm25.k1 >= 0 && query.bm25.k1 <= 10) || !(query.bm25.b >= 0 && query.bm25.b <= 1)) {
    return absl::InvalidArgumentError("bm25_k1 must be in [0, 10] and bm25_b in [0, 1]");
  }
  const RelevanceFeedbackParams& feedback = query.feedback;
  const int feedback_documents = query.feedback_documents.value_or(0);
  if (feedback_documents < 0 || feedback_documents > kMaxFeedbackDocuments || feedback.terms < 1 ||
      feedback.terms > kMaxFeedbackTerms ||
      !(feedback.original_weight >= 0 && feedback.original_weight <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "feedback_documents must be in 0..", kMaxFeedbackDocuments, ", feedback_terms in 1..",
        kMaxFeedbackTerms, " and feedback_original_weight in [0, 1]"));
  }
  if (query.ef_search < 0 || query.ef_search > kMaxEfSearch) {
    return absl::InvalidArgumentError(absl::StrCat("ef_search must be in 0..", kMaxEfSearch,
                                                   " (0: default), got ", query.ef_search));
  }
  if (query.nprobe < 0 || query.nprobe > kMaxNprobe) {
    return absl::InvalidArgumentError(
        absl::StrCat("nprobe must be in 0..", kMaxNprobe, " (0: default), got ", query.nprobe));
  }
  if (query.min_score.has_value() && !std::isfinite(*query.min_score)) {
    return absl::InvalidArgumentError("min_score must be a finite number");
  }
  return absl::OkStatus();
}

absl::StatusOr<SearchMode> Collection::ResolveMode(const SearchQuery& query) const {
  if (!query.vector.empty()) {
    if (query.mode != SearchMode::kDefault && query.mode != SearchMode::kDense) {
      return absl::InvalidArgumentError("a vector query supports dense mode only");
    }
    return SearchMode::kDense;
  }
  if (query.mode == SearchMode::kDefault) {
    return embedder_ != nullptr ? SearchMode::kHybrid : SearchMode::kLexical;
  }
  if (query.mode != SearchMode::kLexical && embedder_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "collection '", config_.name, "' has no embedder: text queries support lexical mode only"));
  }
  return query.mode;
}

absl::StatusOr<int64_t> Collection::Delete(const std::vector<std::string>& ids) {
  if (ids.empty()) return absl::InvalidArgumentError("ids: at least one is required");
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].empty() || static_cast<int64_t>(ids[i].size()) > limits_.max_id_bytes ||
        !text::IsValidUtf8(ids[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ids[", i, "]: must be 1 to ", limits_.max_id_bytes, " bytes of valid UTF-8"));
    }
  }
  absl::MutexLock lock(&write_mutex_);
  std::shared_ptr<State> state = CurrentState();
  if (absl::Status status = CatchUpState(*state); !status.ok()) return status;
  int64_t live = 0;
  {
    absl::ReaderMutexLock state_lock(&state->mutex);
    absl::flat_hash_set<absl::string_view> counted;
    for (const std::string& id : ids) {
      if (counted.insert(id).second && IsLive(*state, id)) ++live;
    }
  }
  LogRecord record;
  record.type = LogRecord::Type::kDelete;
  record.deleted_ids = ids;
  absl::StatusOr<LogPosition> position = log_writer_->Append(record);
  if (!position.ok()) return position.status();
  if (absl::Status status = CatchUpState(*state); !status.ok()) return status;
  return live;
}

absl::StatusOr<SearchResult> Collection::Search(const SearchQuery& query) const {
  const absl::Time start = absl::Now();
  if (absl::Status status = ValidateQuery(query); !status.ok()) return status;
  absl::StatusOr<SearchMode> mode = ResolveMode(query);
  if (!mode.ok()) return mode.status();

  SearchResult result;
  result.mode = *mode;
  const bool use_dense = *mode != SearchMode::kLexical;
  const bool use_lexical = *mode != SearchMode::kDense;

  std::vector<std::string> query_terms;
  if (!query.text.empty()) query_terms = analyzer_.Terms(query.text);

  // A single retriever needs only top_k candidates unless hits will be dropped afterwards.
  const bool post_filters =
      query.max_chunks_per_document > 0 || query.min_score.has_value() || query.mmr_lambda > 0;
  const int fused_depth = std::max(
      query.top_k, query.candidates > 0 ? query.candidates : std::max(100, 2 * query.top_k));
  const int depth = (*mode == SearchMode::kHybrid || post_filters) ? fused_depth : query.top_k;

  const std::shared_ptr<State> state = CurrentState();
  absl::ReaderMutexLock lock(&state->mutex);
  std::vector<SegmentView> segments(state->shards.size() + 1);
  for (size_t i = 0; i < state->shards.size(); ++i) {
    const ShardSlot& slot = state->shards[i];
    SegmentView& segment = segments[i];
    segment.dense = &slot.shard->dense();
    segment.lexical = &slot.shard->lexical();
    segment.base = slot.base;
    segment.allowed = &slot.live_chunks;
    if (query.filter.has_value()) {
      for (int64_t index : slot.live_documents.ToVector()) {
        const DocumentView document = slot.shard->document(static_cast<int32_t>(index));
        if (!FilterMatches(*query.filter, *document.metadata)) continue;
        for (int64_t i = 0; i < document.chunk_count; ++i) {
          segment.filtered.Insert(document.first_label + i);
        }
      }
      segment.allowed = &segment.filtered;
    }
  }
  SegmentView& fresh = segments.back();
  fresh.dense = state->dense.get();
  fresh.lexical = &state->lexical;
  fresh.base = state->fresh_base;
  fresh.allowed = &state->live_chunks;
  if (query.filter.has_value()) {
    for (const auto& [id, document] : state->documents) {
      if (FilterMatches(*query.filter, document->metadata)) {
        for (int64_t label : document->labels) fresh.filtered.Insert(label);
      }
    }
    fresh.allowed = &fresh.filtered;
  }

  // Collection-wide N, average length and df: a chunk's BM25 score must not depend on which
  // shard holds it, and the embedder weighs query words by the same idf.
  const Bm25Statistics statistics = CollectionBm25Statistics(*state, segments, query_terms);

  std::vector<float> query_vector;
  if (use_dense) {
    const absl::Time embed_start = absl::Now();
    if (!query.vector.empty()) {
      query_vector = query.vector;
    } else {
      const auto idf = [&](std::string_view term) {
        return static_cast<float>(statistics.Idf(absl::string_view(term.data(), term.size())));
      };
      absl::StatusOr<std::vector<float>> embedded =
          embedder_->EmbedQuery(query.text, idf, query.caller);
      if (!embedded.ok()) return embedded.status();
      query_vector = *std::move(embedded);
    }
    result.timings.embed_ms = MillisecondsSince(embed_start);
  }

  // The two legs share nothing but read-only inputs until fusion; with helper threads a
  // hybrid search runs them side by side (helper_threads.h).
  std::vector<ScoredLabel> dense_hits;
  absl::Status dense_status;
  const auto dense_leg = [&] {
    const absl::Time dense_start = absl::Now();
    std::vector<std::vector<ScoredLabel>> per_segment(segments.size());
    DenseSearchOptions dense_options;
    dense_options.ef_search = query.ef_search;
    dense_options.nprobe = query.nprobe;
    for (size_t i = 0; i < segments.size(); ++i) {
      if (segments[i].allowed->size() == 0) continue;
      // A large segment whose every label is allowed is searched without a selector: FAISS
      // then skips its per-candidate membership test (a virtual call per scanned vector in flat
      // and IVF scans). Small ones keep the set, which DenseIndex scores exactly.
      const LabelSet* allowed = segments[i].allowed;
      if (allowed->size() == segments[i].dense->size() &&
          allowed->size() > dense_options.exact_scan_threshold) {
        allowed = nullptr;
      }
      absl::StatusOr<std::vector<ScoredLabel>> hits =
          segments[i].dense->Search(query_vector, depth, allowed, dense_options);
      if (!hits.ok()) {
        dense_status = hits.status();
        return;
      }
      per_segment[i] = *std::move(hits);
    }
    dense_hits = MergeSegments(std::move(per_segment), segments, depth);
    result.timings.dense_ms = MillisecondsSince(dense_start);
  };
  std::vector<ScoredLabel> lexical_hits;
  const auto lexical_leg = [&] {
    const absl::Time lexical_start = absl::Now();
    const int feedback_documents = query.feedback_documents.value_or(
        *mode == SearchMode::kHybrid ? kHybridFeedbackDocuments : 0);
    std::vector<WeightedTerm> weighted;
    for (const std::string& term : query_terms) weighted.push_back({term, 1.0});
    // With feedback the first pass only picks the feedback chunks (any hits it finds are
    // replaced by the expanded query's); without, it is the answer.
    lexical_hits =
        SearchLexical(segments, weighted, feedback_documents > 0 ? feedback_documents : depth,
                      query.bm25, statistics);
    if (feedback_documents > 0 && !lexical_hits.empty()) {
      std::vector<FeedbackChunk> feedback;
      for (const ScoredLabel& hit :
           absl::MakeConstSpan(lexical_hits)
               .first(std::min(lexical_hits.size(), static_cast<size_t>(feedback_documents)))) {
        feedback.push_back({hit.score, IndexedTerms(*state, hit.label)});
      }
      const std::vector<WeightedTerm> expanded = ExpandQuery(query_terms, feedback, query.feedback);
      std::vector<std::string> expanded_terms;
      for (const WeightedTerm& term : expanded) expanded_terms.push_back(term.term);
      lexical_hits = SearchLexical(segments, expanded, depth, query.bm25,
                                   CollectionBm25Statistics(*state, segments, expanded_terms));
    }
    result.timings.lexical_ms = MillisecondsSince(lexical_start);
  };
  if (use_dense && use_lexical && resources_.search_helpers != nullptr) {
    resources_.search_helpers->RunBoth(dense_leg, lexical_leg);
  } else {
    if (use_dense) dense_leg();
    if (use_lexical) lexical_leg();
  }
  if (!dense_status.ok()) return dense_status;

  const absl::Time fuse_start = absl::Now();
  std::vector<FusedHit> fused;
  if (*mode == SearchMode::kHybrid) {
    fused = query.fusion == FusionMethod::kWeighted
                ? FuseWeighted(dense_hits, lexical_hits, query.dense_weight, depth)
                : FuseReciprocalRank(dense_hits, lexical_hits, query.rrf_k, depth);
  } else {
    for (const ScoredLabel& hit : use_dense ? dense_hits : lexical_hits) {
      FusedHit fused_hit{hit.label, hit.score, std::nullopt, std::nullopt};
      (use_dense ? fused_hit.dense_score : fused_hit.lexical_score) = hit.score;
      fused.push_back(fused_hit);
    }
  }
  // A reranker re-scores `fused` here: after fusion, before the threshold and diversity.
  if (query.min_score.has_value()) {
    std::erase_if(fused, [&](const FusedHit& hit) { return hit.score < *query.min_score; });
  }
  if (query.mmr_lambda > 0) {
    absl::StatusOr<std::vector<FusedHit>> diverse =
        Diversify(*state, segments, std::move(fused), query);
    if (!diverse.ok()) return diverse.status();
    fused = *std::move(diverse);
  }
  absl::flat_hash_map<std::string, int> chunks_per_document;
  for (const FusedHit& candidate : fused) {
    if (static_cast<int>(result.hits.size()) >= query.top_k) break;
    Hit hit = MakeHit(*state, candidate.label, candidate.score);
    if (query.max_chunks_per_document > 0 &&
        ++chunks_per_document[hit.document_id] > query.max_chunks_per_document) {
      continue;
    }
    hit.dense_score = candidate.dense_score;
    hit.lexical_score = candidate.lexical_score;
    result.hits.push_back(std::move(hit));
  }
  result.timings.fuse_ms = MillisecondsSince(fuse_start);
  result.timings.total_ms = MillisecondsSince(start);
  return result;
}

Hit Collection::MakeHit(const State& state, int64_t label, float score) const {
  Hit hit;
  hit.score = score;
  if (label >= state.fresh_base) {
    const FreshChunk& chunk = state.chunks[static_cast<size_t>(label - state.fresh_base)];
    const FreshDocument& document = *chunk.document;
    hit.document_id = document.id;
    hit.title = document.title;
    hit.text = document.text.substr(chunk.start, chunk.end - chunk.start);
    hit.metadata = document.metadata;
    hit.chunk_index = chunk.chunk_index;
    hit.start = chunk.start;
    hit.end = chunk.end;
  } else {
    const ShardSlot& slot = ShardSlotOf(state, label);
    const ChunkView chunk = slot.shard->chunk(label - slot.base);
    const DocumentView document = slot.shard->document(chunk.document_index);
    hit.document_id = std::string(document.id);
    hit.title = std::string(document.title);
    hit.text = std::string(document.text.substr(chunk.start, chunk.end - chunk.start));
    hit.metadata = *document.metadata;
    hit.chunk_index = chunk.chunk_index;
    hit.start = chunk.start;
    hit.end = chunk.end;
  }
  hit.chunk_id = absl::StrCat(hit.document_id, "#", hit.chunk_index);
  return hit;
}

absl::StatusOr<StoredDocument> Collection::GetDocument(const std::string& id) const {
  const std::shared_ptr<State> state = CurrentState();
  absl::ReaderMutexLock lock(&state->mutex);
  if (auto it = state->documents.find(id); it != state->documents.end()) {
    const FreshDocument& entry = *it->second;
    StoredDocument document{entry.id, entry.title, entry.text, entry.metadata, {}};
    for (int64_t label : entry.labels) {
      const FreshChunk& chunk = state->chunks[static_cast<size_t>(label)];
      document.chunks.push_back(StoredChunk{chunk.start, chunk.end, {}});
    }
    return document;
  }
  for (const ShardSlot& slot : state->shards) {
    std::optional<int32_t> index = slot.shard->FindDocument(id);
    if (!index.has_value() || !slot.live_documents.Contains(*index)) continue;
    const DocumentView view = slot.shard->document(*index);
    StoredDocument document{
        std::string(view.id), std::string(view.title), std::string(view.text), *view.metadata, {}};
    for (int64_t i = 0; i < view.chunk_count; ++i) {
      const ChunkView chunk = slot.shard->chunk(view.first_label + i);
      document.chunks.push_back(StoredChunk{chunk.start, chunk.end, {}});
    }
    return document;
  }
  return absl::NotFoundError(
      absl::StrCat("document '", id, "' not found in collection '", config_.name, "'"));
}

CollectionStatistics Collection::Statistics() const {
  CollectionStatistics statistics;
  const std::shared_ptr<State> state = CurrentState();
  {
    absl::ReaderMutexLock lock(&state->mutex);
    statistics.documents = static_cast<int64_t>(state->documents.size());
    statistics.chunks = state->live_chunks.size();
    statistics.fresh_chunks = state->live_chunks.size();
    statistics.text_bytes = state->text_bytes;
    for (const ShardSlot& slot : state->shards) {
      statistics.documents += slot.live_documents.size();
      statistics.chunks += slot.live_chunks.size();
      statistics.text_bytes += slot.live_text_bytes;
      statistics.disk_bytes += static_cast<int64_t>(slot.shard->bytes());
    }
    statistics.shards = static_cast<int64_t>(state->shards.size());
  }
  statistics.generation = state->generation;
  statistics.disk_bytes += static_cast<int64_t>(IngestLogDiskBytes(directory_ + "/log"));
  return statistics;
}

}  // namespace quarry
