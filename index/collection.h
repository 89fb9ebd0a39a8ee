// A collection: the unit of tenancy. Owns its directory (config.json + the ingest log) and
// serves what the log holds from memory: documents, chunks, a dense (FAISS) index and a
// lexical (BM25) index.
//
// Every change goes through the log: Ingest and Delete append a record (durable before they
// return) and then catch up with the log, which applies every record this process has not seen
// yet, its own and other processes' alike, in log order. Opening replays the whole log the same
// way. So the in-memory state is always exactly "the log up to position P", whoever wrote it.
//
// Thread-safe: searches share a reader lock; catching up takes the writer lock only while
// applying decoded records (chunking and embedding happen before, outside any lock).
#ifndef QUARRY_INDEX_COLLECTION_H_
#define QUARRY_INDEX_COLLECTION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "index/collection_config.h"
#include "index/document.h"
#include "index/embed/embedder.h"
#include "index/search/bm25_index.h"
#include "index/search/dense_index.h"
#include "index/search/filter.h"
#include "index/search/label_set.h"
#include "index/store/ingest_log.h"
#include "index/text/analyzer.h"

namespace quarry {

// Limits on what a caller may store or ask; the server sets them from its flags.
struct CollectionLimits {
  int64_t max_document_bytes = 8 << 20;
  int64_t max_title_bytes = 4096;
  int64_t max_id_bytes = 256;
  int64_t max_metadata_entries = 64;
  int64_t max_metadata_value_bytes = 4096;
  int64_t max_query_bytes = 16 << 10;
  int max_top_k = 1000;
};

enum class SearchMode { kDefault, kDense, kLexical, kHybrid };
enum class FusionMethod { kReciprocalRank, kWeighted };

struct SearchQuery {
  std::string text;  // exactly one of text and vector is set
  std::vector<float> vector;
  int top_k = 10;
  std::optional<Filter> filter;
  SearchMode mode = SearchMode::kDefault;
  // Weighted fusion by default: the built-in embedder is much weaker than BM25, and RRF gives
  // a weak retriever an equal vote.
  FusionMethod fusion = FusionMethod::kWeighted;
  int rrf_k = 60;
  float dense_weight = 0.3f;
  int candidates = 0;               // per retriever; 0: max(100, 2 * top_k)
  int max_chunks_per_document = 0;  // 0: no limit
  std::optional<float> min_score;
  Bm25Params bm25;
};

struct Hit {
  std::string chunk_id;  // "<document id>#<chunk index>"
  std::string document_id;
  std::string title;
  std::string text;
  Metadata metadata;
  int chunk_index = 0;
  uint32_t start = 0;
  uint32_t end = 0;
  float score = 0;
  std::optional<float> dense_score;
  std::optional<float> lexical_score;
};

struct SearchTimings {
  double embed_ms = 0;
  double dense_ms = 0;
  double lexical_ms = 0;
  double fuse_ms = 0;
  double total_ms = 0;
};

struct SearchResult {
  std::vector<Hit> hits;
  SearchMode mode = SearchMode::kDefault;  // the mode actually used
  SearchTimings timings;
};

struct IngestResult {
  std::vector<std::string> ids;  // in request order, generated ones filled in
  int64_t chunks = 0;
};

struct CollectionStatistics {
  int64_t documents = 0;
  int64_t chunks = 0;
  int64_t text_bytes = 0;
  int64_t disk_bytes = 0;
};

class Collection {
 public:
  // Opens the collection stored in `directory` (which holds config.json and log/) and replays
  // its log. `embedder` may be null only for collections whose embedder is kNone.
  static absl::StatusOr<std::unique_ptr<Collection>> Open(std::string directory,
                                                          CollectionConfig config,
                                                          std::shared_ptr<const Embedder> embedder,
                                                          const CollectionLimits& limits,
                                                          const IngestLogOptions& log_options);

  const CollectionConfig& config() const { return config_; }
  const std::string& directory() const { return directory_; }

  // Validates, chunks, embeds and durably stores a batch (atomic), upserting by id.
  // INVALID_ARGUMENT (naming documents[i].field) and nothing stored on bad input.
  absl::StatusOr<IngestResult> Ingest(std::vector<Document> documents);

  // Durably deletes documents; returns how many ids named a live document.
  absl::StatusOr<int64_t> Delete(const std::vector<std::string>& ids);

  absl::StatusOr<SearchResult> Search(const SearchQuery& query) const;

  // The live document with this id (chunks without vectors). NOT_FOUND otherwise.
  absl::StatusOr<StoredDocument> GetDocument(const std::string& id) const;

  CollectionStatistics Statistics() const;

  // Applies log records appended since the last call (by any process).
  absl::Status CatchUp();

 private:
  struct DocumentEntry {
    std::string id;
    std::string title;
    std::string text;
    Metadata metadata;
    std::vector<int64_t> labels;  // one per chunk, in chunk order
  };
  struct ChunkEntry {
    std::shared_ptr<const DocumentEntry> document;
    int chunk_index = 0;
    uint32_t start = 0;
    uint32_t end = 0;
  };

  Collection(std::string directory, CollectionConfig config,
             std::shared_ptr<const Embedder> embedder, const CollectionLimits& limits,
             std::unique_ptr<DenseIndex> dense, std::unique_ptr<IngestLogWriter> log_writer);

  absl::Status ValidateDocument(const Document& document, size_t position) const;
  absl::StatusOr<StoredDocument> PrepareDocument(Document document) const;
  absl::Status CatchUpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mutex_);
  absl::Status Apply(const LogRecord& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mutex_);
  void RemoveDocumentLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mutex_);
  std::vector<std::string> LexicalTerms(const DocumentEntry& document,
                                        const ChunkEntry& chunk) const;
  absl::StatusOr<SearchMode> ResolveMode(const SearchQuery& query) const;
  absl::Status ValidateQuery(const SearchQuery& query) const;
  Hit MakeHit(int64_t label, float score) const ABSL_SHARED_LOCKS_REQUIRED(state_mutex_);

  const std::string directory_;
  const CollectionConfig config_;
  const std::shared_ptr<const Embedder> embedder_;
  const CollectionLimits limits_;
  text::Analyzer analyzer_;

  // Serialises writers and log catch-up, so records are applied once and in log order.
  absl::Mutex write_mutex_ ABSL_ACQUIRED_BEFORE(state_mutex_);
  std::unique_ptr<IngestLogWriter> log_writer_;
  IngestLogReader log_reader_ ABSL_GUARDED_BY(write_mutex_);
  LogPosition applied_through_ ABSL_GUARDED_BY(write_mutex_);

  mutable absl::Mutex state_mutex_;
  absl::flat_hash_map<std::string, std::shared_ptr<const DocumentEntry>> documents_
      ABSL_GUARDED_BY(state_mutex_);
  std::vector<ChunkEntry> chunks_ ABSL_GUARDED_BY(state_mutex_);  // by label
  LabelSet live_chunks_ ABSL_GUARDED_BY(state_mutex_);
  std::unique_ptr<DenseIndex> dense_ ABSL_GUARDED_BY(state_mutex_);
  Bm25Index lexical_ ABSL_GUARDED_BY(state_mutex_);
  int64_t text_bytes_ ABSL_GUARDED_BY(state_mutex_) = 0;
};

}  // namespace quarry

#endif  // QUARRY_INDEX_COLLECTION_H_
