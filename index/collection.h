// A collection: the unit of tenancy. Owns its directory (config.json, the ingest log, the
// manifest and the shards the indexer built) and serves it: the live shards of the current
// manifest generation plus a "fresh" in-memory index (documents, chunks, FAISS, BM25) of the
// log records that no shard covers yet.
//
// Every change goes through the log: Ingest and Delete append a record (durable before they
// return) and then catch up with the log, which applies every record this process has not seen
// yet, its own and other processes' alike, in log order. So what is served is always exactly
// "the shards + the log up to position P", whoever wrote it. A record that replaces or deletes
// a document hides the shard copies of that document.
//
// Thread-safe: searches share a reader lock on the current state; catching up takes the writer
// lock only while applying decoded records (chunking and embedding happen before, outside any
// lock). A new manifest generation is loaded aside and swapped in (RCU): in-flight searches
// finish on the state they started with.
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
#include "absl/time/time.h"
#include "index/collection_config.h"
#include "index/document.h"
#include "index/document_preparation.h"
#include "index/embed/embedder.h"
#include "index/remote/call_control.h"
#include "index/helper_threads.h"
#include "index/huge_page_collapser.h"
#include "index/search/bm25_index.h"
#include "index/search/dense_index.h"
#include "index/search/filter.h"
#include "index/search/relevance_feedback.h"
#include "index/shard/manifest.h"
#include "index/store/ingest_log.h"
#include "index/text/analyzer.h"

namespace quarry {

namespace internal {
struct CollectionState;
}  // namespace internal

enum class SearchMode { kDefault, kDense, kLexical, kHybrid };
enum class FusionMethod { kReciprocalRank, kWeighted };

inline constexpr int kHybridFeedbackDocuments = 3;

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
  float mmr_lambda = 0;             // in (0, 1]; 0: no MMR (index/search/mmr.h)
  std::optional<float> min_score;
  Bm25Params bm25;
  // The caller's deadline and cancellation, for work that calls out (a remote embedder
  // embedding the text).
  remote::CallControl caller;
  // Expands the lexical leg's query from the best chunks of its own first pass. Unset:
  // kHybridFeedbackDocuments in hybrid mode, 0 (plain BM25) in lexical mode, where feedback
  // costs nDCG@10 on SciFact's train queries.
  std::optional<int> feedback_documents;
  RelevanceFeedbackParams feedback;
  int ef_search = 0;  // HNSW beam, 0..kMaxEfSearch; 0: DenseIndex's default
  int nprobe = 0;     // IVF lists probed, 0..kMaxNprobe; 0: each shard's own
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
  int64_t shards = 0;
  uint64_t generation = 0;
  int64_t fresh_chunks = 0;  // chunks served from the log tail, not yet in a shard
};

// What a catalog lends all its collections; either may be null.
struct CollectionResources {
  // Threads a hybrid search borrows to run its two legs side by side (helper_threads.h).
  std::shared_ptr<HelperThreads> search_helpers;
  // Moves newly loaded shards onto huge pages in the background (huge_page_collapser.h).
  std::shared_ptr<HugePageCollapser> huge_pages;
};

class Collection {
 public:
  // Opens the collection stored in `directory` (which holds config.json and log/) and replays
  // its log. `embedder` may be null only for collections whose embedder is kNone.
  static absl::StatusOr<std::unique_ptr<Collection>> Open(std::string directory,
                                                          CollectionConfig config,
                                                          std::shared_ptr<const Embedder> embedder,
                                                          const CollectionLimits& limits,
                                                          const IngestLogOptions& log_options,
                                                          CollectionResources resources = {});

  ~Collection();

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

  // Applies log records appended since the last call (by any process) and, when the indexer
  // has published a new manifest generation, swaps in its shards.
  absl::Status CatchUp();

  // Errors of shards that failed their checks and are not served (the rest are).
  std::vector<absl::Status> ShardErrors() const;

 private:
  using State = internal::CollectionState;

  Collection(std::string directory, CollectionConfig config,
             std::shared_ptr<const Embedder> embedder, const CollectionLimits& limits,
             std::unique_ptr<IngestLogWriter> log_writer, CollectionResources resources);

  absl::StatusOr<SearchMode> ResolveMode(const SearchQuery& query) const;
  absl::Status ValidateQuery(const SearchQuery& query) const;

  // A new state for `manifest`: its shards (reusing those `current` already loaded) plus a
  // fresh index of the log from the manifest's position to the end.
  absl::StatusOr<std::shared_ptr<State>> BuildState(const Manifest& manifest,
                                                    const State* current) const;
  // Applies the log records after state.applied_through.
  absl::Status CatchUpState(State& state) const;
  std::shared_ptr<State> CurrentState() const;
  Hit MakeHit(const State& state, int64_t label, float score) const;

  const std::string directory_;
  const CollectionConfig config_;
  const std::shared_ptr<const Embedder> embedder_;
  const CollectionLimits limits_;
  const text::Analyzer analyzer_;

  // Serialises writers and log catch-up, so records are applied once and in log order.
  absl::Mutex write_mutex_;
  std::unique_ptr<IngestLogWriter> log_writer_;
  const CollectionResources resources_;

  // The current state (RCU): searches take a reference and finish on it even if a new
  // manifest generation is swapped in meanwhile.
  mutable absl::Mutex state_pointer_mutex_;
  std::shared_ptr<State> state_ ABSL_GUARDED_BY(state_pointer_mutex_);
};

}  // namespace quarry

#endif  // QUARRY_INDEX_COLLECTION_H_
