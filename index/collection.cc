#include "index/collection.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "index/search/fusion.h"
#include "index/text/chunk_text.h"
#include "index/text/chunker.h"
#include "index/text/tokenizer.h"
#include "index/text/utf8.h"

namespace quarry {

namespace {

constexpr int kMaxCandidates = 10000;

double MillisecondsSince(absl::Time start) {
  return absl::ToDoubleMilliseconds(absl::Now() - start);
}

bool IsMetadataKeyCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

bool HasControlCharacter(absl::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  });
}

std::string GenerateDocumentId(absl::BitGen& random) {
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(random),
                         absl::Uniform<uint64_t>(random));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Collection>> Collection::Open(
    std::string directory, CollectionConfig config, std::shared_ptr<const Embedder> embedder,
    const CollectionLimits& limits, const IngestLogOptions& log_options) {
  if (embedder == nullptr && config.embedder != EmbedderKind::kNone) {
    return absl::FailedPreconditionError(
        absl::StrCat("collection '", config.name, "' needs an embedder and none is available"));
  }
  if (embedder != nullptr && embedder->dimension() != config.dimension) {
    return absl::FailedPreconditionError(
        absl::StrCat("collection '", config.name, "' has dimension ", config.dimension,
                     " but its embedder produces ", embedder->dimension()));
  }
  absl::StatusOr<std::unique_ptr<DenseIndex>> dense =
      DenseIndex::Create(config.dimension, config.index_spec, config.metric);
  if (!dense.ok()) return dense.status();
  absl::StatusOr<std::unique_ptr<IngestLogWriter>> writer =
      IngestLogWriter::Open(directory + "/log", log_options);
  if (!writer.ok()) return writer.status();
  std::unique_ptr<Collection> collection(new Collection(std::move(directory), std::move(config),
                                                        std::move(embedder), limits,
                                                        *std::move(dense), *std::move(writer)));
  if (absl::Status status = collection->CatchUp(); !status.ok()) return status;
  return collection;
}

Collection::Collection(std::string directory, CollectionConfig config,
                       std::shared_ptr<const Embedder> embedder, const CollectionLimits& limits,
                       std::unique_ptr<DenseIndex> dense,
                       std::unique_ptr<IngestLogWriter> log_writer)
    : directory_(std::move(directory)),
      config_(std::move(config)),
      embedder_(std::move(embedder)),
      limits_(limits),
      log_writer_(std::move(log_writer)),
      log_reader_(directory_ + "/log"),
      dense_(std::move(dense)) {}

absl::Status Collection::ValidateDocument(const Document& document, size_t position) const {
  const std::string field = absl::StrCat("documents[", position, "]");
  auto invalid = [&](absl::string_view name, absl::string_view problem) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".", name, ": ", problem));
  };
  if (static_cast<int64_t>(document.id.size()) > limits_.max_id_bytes) {
    return invalid("id", absl::StrCat("is ", document.id.size(), " bytes; the limit is ",
                                      limits_.max_id_bytes));
  }
  if (!text::IsValidUtf8(document.id) || HasControlCharacter(document.id)) {
    return invalid("id", "must be valid UTF-8 without control characters");
  }
  if (document.text.empty()) return invalid("text", "is empty");
  if (static_cast<int64_t>(document.text.size()) > limits_.max_document_bytes) {
    return invalid("text", absl::StrCat("is ", document.text.size(), " bytes; the limit is ",
                                        limits_.max_document_bytes));
  }
  if (!text::IsValidUtf8(document.text)) return invalid("text", "is not valid UTF-8");
  if (static_cast<int64_t>(document.title.size()) > limits_.max_title_bytes) {
    return invalid("title", absl::StrCat("is ", document.title.size(), " bytes; the limit is ",
                                         limits_.max_title_bytes));
  }
  if (!text::IsValidUtf8(document.title)) return invalid("title", "is not valid UTF-8");
  if (static_cast<int64_t>(document.metadata.size()) > limits_.max_metadata_entries) {
    return invalid("metadata",
                   absl::StrCat("has ", document.metadata.size(), " entries; the limit is ",
                                limits_.max_metadata_entries));
  }
  for (const auto& [key, value] : document.metadata) {
    if (key.empty() || key.size() > 128 ||
        !std::all_of(key.begin(), key.end(), IsMetadataKeyCharacter)) {
      return invalid("metadata", absl::StrCat("key '", text::IsValidUtf8(key) ? key : "?",
                                              "' must be 1 to 128 characters of [A-Za-z0-9_.-]"));
    }
    if (const auto* string_value = std::get_if<std::string>(&value)) {
      if (static_cast<int64_t>(string_value->size()) > limits_.max_metadata_value_bytes) {
        return invalid("metadata",
                       absl::StrCat("value of '", key, "' is ", string_value->size(),
                                    " bytes; the limit is ", limits_.max_metadata_value_bytes));
      }
      if (!text::IsValidUtf8(*string_value)) {
        return invalid("metadata", absl::StrCat("value of '", key, "' is not valid UTF-8"));
      }
    } else if (const auto* number = std::get_if<double>(&value)) {
      if (!std::isfinite(*number)) {
        return invalid("metadata", absl::StrCat("value of '", key, "' is not a finite number"));
      }
    }
  }
  if (!document.vector.empty()) {
    if (static_cast<int>(document.vector.size()) != config_.dimension) {
      return invalid("vector",
                     absl::StrCat("has dimension ", document.vector.size(), "; collection '",
                                  config_.name, "' has dimension ", config_.dimension));
    }
    if (!std::all_of(document.vector.begin(), document.vector.end(),
                     [](float x) { return std::isfinite(x); })) {
      return invalid("vector", "contains a NaN or infinite value");
    }
  } else {
    if (embedder_ == nullptr) {
      return invalid("vector",
                     absl::StrCat("is required: collection '", config_.name, "' has no embedder"));
    }
    const std::vector<text::Token> tokens = text::Tokenize(document.text);
    if (tokens.empty()) return invalid("text", "has no words or symbols to index");
  }
  return absl::OkStatus();
}

absl::StatusOr<IngestResult> Collection::Ingest(std::vector<Document> documents) {
  if (documents.empty()) return absl::InvalidArgumentError("documents: at least one is required");
  absl::flat_hash_set<absl::string_view> seen_ids;
  for (size_t i = 0; i < documents.size(); ++i) {
    if (absl::Status status = ValidateDocument(documents[i], i); !status.ok()) return status;
    if (!documents[i].id.empty() && !seen_ids.insert(documents[i].id).second) {
      return absl::InvalidArgumentError(absl::StrCat("documents[", i, "].id: '", documents[i].id,
                                                     "' appears more than once in the batch"));
    }
  }

  // Chunk every document, then embed all chunks that need it in one call (batching matters
  // for HTTP embedders).
  LogRecord record;
  record.type = LogRecord::Type::kUpsert;
  record.documents.reserve(documents.size());
  std::vector<std::string> texts_to_embed;
  std::vector<std::pair<size_t, size_t>> embed_targets;  // (document, chunk)
  absl::BitGen random;
  IngestResult result;
  for (Document& document : documents) {
    StoredDocument stored;
    stored.id = document.id.empty() ? GenerateDocumentId(random) : std::move(document.id);
    stored.title = std::move(document.title);
    stored.text = std::move(document.text);
    stored.metadata = std::move(document.metadata);
    if (!document.vector.empty()) {
      stored.chunks.push_back(
          StoredChunk{0, static_cast<uint32_t>(stored.text.size()), std::move(document.vector)});
    } else {
      for (const text::ChunkSpan& span : text::ChunkText(stored.text, config_.chunking)) {
        embed_targets.emplace_back(record.documents.size(), stored.chunks.size());
        texts_to_embed.push_back(text::ChunkTextWithTitle(
            stored.title,
            absl::string_view(stored.text).substr(span.start, span.end - span.start)));
        stored.chunks.push_back(StoredChunk{span.start, span.end, {}});
      }
    }
    result.ids.push_back(stored.id);
    result.chunks += static_cast<int64_t>(stored.chunks.size());
    record.documents.push_back(std::move(stored));
  }
  if (!texts_to_embed.empty()) {
    std::vector<std::string_view> views(texts_to_embed.begin(), texts_to_embed.end());
    absl::StatusOr<std::vector<float>> vectors = embedder_->Embed(views);
    if (!vectors.ok()) return vectors.status();
    const size_t dimension = static_cast<size_t>(config_.dimension);
    if (vectors->size() != views.size() * dimension) {
      return absl::InternalError("embedder returned the wrong number of values");
    }
    for (size_t i = 0; i < embed_targets.size(); ++i) {
      const auto [document_index, chunk_index] = embed_targets[i];
      record.documents[document_index].chunks[chunk_index].vector.assign(
          vectors->begin() + i * dimension, vectors->begin() + (i + 1) * dimension);
    }
  }

  absl::MutexLock lock(&write_mutex_);
  absl::StatusOr<LogPosition> position = log_writer_->Append(record);
  if (!position.ok()) return position.status();
  if (absl::Status status = CatchUpLocked(); !status.ok()) return status;
  return result;
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
  if (absl::Status status = CatchUpLocked(); !status.ok()) return status;
  int64_t live = 0;
  {
    absl::ReaderMutexLock state_lock(&state_mutex_);
    absl::flat_hash_set<absl::string_view> counted;
    for (const std::string& id : ids) {
      if (documents_.contains(id) && counted.insert(id).second) ++live;
    }
  }
  LogRecord record;
  record.type = LogRecord::Type::kDelete;
  record.deleted_ids = ids;
  absl::StatusOr<LogPosition> position = log_writer_->Append(record);
  if (!position.ok()) return position.status();
  if (absl::Status status = CatchUpLocked(); !status.ok()) return status;
  return live;
}

absl::Status Collection::CatchUp() {
  absl::MutexLock lock(&write_mutex_);
  return CatchUpLocked();
}

absl::Status Collection::CatchUpLocked() {
  absl::StatusOr<LogPosition> position =
      log_reader_.ReadFrom(applied_through_, [this](const LogRecord& record, LogPosition next) {
        absl::MutexLock state_lock(&state_mutex_);
        if (absl::Status status = Apply(record); !status.ok()) return status;
        applied_through_ = next;
        return absl::OkStatus();
      });
  if (!position.ok()) {
    return absl::Status(position.status().code(), absl::StrCat("collection '", config_.name,
                                                               "': ", position.status().message()));
  }
  applied_through_ = *position;
  return absl::OkStatus();
}

absl::Status Collection::Apply(const LogRecord& record) {
  if (record.type == LogRecord::Type::kDelete) {
    for (const std::string& id : record.deleted_ids) RemoveDocumentLocked(id);
    return absl::OkStatus();
  }
  const size_t dimension = static_cast<size_t>(config_.dimension);
  std::vector<float> vectors;
  for (const StoredDocument& stored : record.documents) {
    for (const StoredChunk& chunk : stored.chunks) {
      if (chunk.vector.size() != dimension || chunk.end > stored.text.size() ||
          chunk.start > chunk.end) {
        return absl::DataLossError(absl::StrCat("log record for document '", stored.id,
                                                "' has a chunk that does not fit the collection"));
      }
    }
  }
  for (const StoredDocument& stored : record.documents) {
    RemoveDocumentLocked(stored.id);
    auto entry = std::make_shared<DocumentEntry>();
    entry->id = stored.id;
    entry->title = stored.title;
    entry->text = stored.text;
    entry->metadata = stored.metadata;
    for (size_t i = 0; i < stored.chunks.size(); ++i) {
      entry->labels.push_back(static_cast<int64_t>(chunks_.size() + i));
    }
    for (size_t i = 0; i < stored.chunks.size(); ++i) {
      const StoredChunk& chunk = stored.chunks[i];
      const int64_t label = entry->labels[i];
      chunks_.push_back(ChunkEntry{entry, static_cast<int>(i), chunk.start, chunk.end});
      live_chunks_.Insert(label);
      lexical_.Add(label, LexicalTerms(*entry, chunks_.back()));
      vectors.insert(vectors.end(), chunk.vector.begin(), chunk.vector.end());
    }
    text_bytes_ += static_cast<int64_t>(entry->text.size());
    documents_[entry->id] = std::move(entry);
  }
  return dense_->Add(vectors);
}

void Collection::RemoveDocumentLocked(const std::string& id) {
  auto it = documents_.find(id);
  if (it == documents_.end()) return;
  const DocumentEntry& entry = *it->second;
  for (int64_t label : entry.labels) {
    live_chunks_.Erase(label);
    lexical_.Remove(label, LexicalTerms(entry, chunks_[static_cast<size_t>(label)]));
  }
  text_bytes_ -= static_cast<int64_t>(entry.text.size());
  documents_.erase(it);
}

std::vector<std::string> Collection::LexicalTerms(const DocumentEntry& document,
                                                  const ChunkEntry& chunk) const {
  return analyzer_.Terms(text::ChunkTextWithTitle(
      document.title,
      absl::string_view(document.text).substr(chunk.start, chunk.end - chunk.start)));
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

absl::StatusOr<SearchResult> Collection::Search(const SearchQuery& query) const {
  const absl::Time start = absl::Now();
  if (absl::Status status = ValidateQuery(query); !status.ok()) return status;
  absl::StatusOr<SearchMode> mode = ResolveMode(query);
  if (!mode.ok()) return mode.status();

  SearchResult result;
  result.mode = *mode;
  const bool use_dense = *mode != SearchMode::kLexical;
  const bool use_lexical = *mode != SearchMode::kDense;

  std::vector<float> query_vector;
  if (use_dense) {
    const absl::Time embed_start = absl::Now();
    if (!query.vector.empty()) {
      query_vector = query.vector;
    } else {
      const std::string_view text = query.text;
      absl::StatusOr<std::vector<float>> embedded = embedder_->Embed({&text, 1});
      if (!embedded.ok()) return embedded.status();
      query_vector = *std::move(embedded);
    }
    result.timings.embed_ms = MillisecondsSince(embed_start);
  }
  std::vector<std::string> query_terms;
  if (use_lexical) query_terms = analyzer_.Terms(query.text);

  // A single retriever needs only top_k candidates unless hits will be dropped afterwards.
  const bool post_filters = query.max_chunks_per_document > 0 || query.min_score.has_value();
  const int fused_depth = std::max(
      query.top_k, query.candidates > 0 ? query.candidates : std::max(100, 2 * query.top_k));
  const int depth = (*mode == SearchMode::kHybrid || post_filters) ? fused_depth : query.top_k;

  absl::ReaderMutexLock lock(&state_mutex_);
  LabelSet filtered;
  const LabelSet* allowed = &live_chunks_;
  if (query.filter.has_value()) {
    for (const auto& [id, document] : documents_) {
      if (FilterMatches(*query.filter, document->metadata)) {
        for (int64_t label : document->labels) filtered.Insert(label);
      }
    }
    allowed = &filtered;
  }

  std::vector<ScoredLabel> dense_hits;
  std::vector<ScoredLabel> lexical_hits;
  if (use_dense && allowed->size() > 0) {
    const absl::Time dense_start = absl::Now();
    absl::StatusOr<std::vector<ScoredLabel>> hits = dense_->Search(query_vector, depth, allowed);
    if (!hits.ok()) return hits.status();
    dense_hits = *std::move(hits);
    result.timings.dense_ms = MillisecondsSince(dense_start);
  }
  if (use_lexical && allowed->size() > 0) {
    const absl::Time lexical_start = absl::Now();
    lexical_hits = lexical_.Search(query_terms, depth, query.bm25, allowed);
    result.timings.lexical_ms = MillisecondsSince(lexical_start);
  }

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
  absl::flat_hash_map<const DocumentEntry*, int> chunks_per_document;
  for (const FusedHit& candidate : fused) {
    if (static_cast<int>(result.hits.size()) >= query.top_k) break;
    if (query.min_score.has_value() && candidate.score < *query.min_score) continue;
    const ChunkEntry& chunk = chunks_[static_cast<size_t>(candidate.label)];
    if (query.max_chunks_per_document > 0 &&
        ++chunks_per_document[chunk.document.get()] > query.max_chunks_per_document) {
      continue;
    }
    Hit hit = MakeHit(candidate.label, candidate.score);
    hit.dense_score = candidate.dense_score;
    hit.lexical_score = candidate.lexical_score;
    result.hits.push_back(std::move(hit));
  }
  result.timings.fuse_ms = MillisecondsSince(fuse_start);
  result.timings.total_ms = MillisecondsSince(start);
  return result;
}

Hit Collection::MakeHit(int64_t label, float score) const {
  const ChunkEntry& chunk = chunks_[static_cast<size_t>(label)];
  const DocumentEntry& document = *chunk.document;
  Hit hit;
  hit.chunk_id = absl::StrCat(document.id, "#", chunk.chunk_index);
  hit.document_id = document.id;
  hit.title = document.title;
  hit.text = document.text.substr(chunk.start, chunk.end - chunk.start);
  hit.metadata = document.metadata;
  hit.chunk_index = chunk.chunk_index;
  hit.start = chunk.start;
  hit.end = chunk.end;
  hit.score = score;
  return hit;
}

absl::StatusOr<StoredDocument> Collection::GetDocument(const std::string& id) const {
  absl::ReaderMutexLock lock(&state_mutex_);
  auto it = documents_.find(id);
  if (it == documents_.end()) {
    return absl::NotFoundError(
        absl::StrCat("document '", id, "' not found in collection '", config_.name, "'"));
  }
  const DocumentEntry& entry = *it->second;
  StoredDocument document{entry.id, entry.title, entry.text, entry.metadata, {}};
  for (int64_t label : entry.labels) {
    const ChunkEntry& chunk = chunks_[static_cast<size_t>(label)];
    document.chunks.push_back(StoredChunk{chunk.start, chunk.end, {}});
  }
  return document;
}

CollectionStatistics Collection::Statistics() const {
  CollectionStatistics statistics;
  {
    absl::ReaderMutexLock lock(&state_mutex_);
    statistics.documents = static_cast<int64_t>(documents_.size());
    statistics.chunks = live_chunks_.size();
    statistics.text_bytes = text_bytes_;
  }
  statistics.disk_bytes = static_cast<int64_t>(IngestLogDiskBytes(directory_ + "/log"));
  return statistics;
}

}  // namespace quarry
