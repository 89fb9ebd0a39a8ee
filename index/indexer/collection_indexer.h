// The sidecar indexer's work on one collection: turn the ingest log's tail into immutable
// shards, merge small shards, publish manifest generations, and collect garbage (retired
// shards, abandoned builds, log segments the shards fully cover).
//
// One indexer per collection at a time: Acquire takes an exclusive flock on
// <collection>/INDEXER.lock for the object's lifetime; a second one gets UNAVAILABLE naming
// the holder. Every step is crash-safe: a shard is built under a temporary name and renamed
// into place, then a new manifest is published atomically; a crash before the publish leaves
// an orphan shard that garbage collection removes, and the next run redoes the work from the
// log (nothing lost, nothing duplicated, since the manifest still points before those records).
#ifndef QUARRY_INDEX_INDEXER_COLLECTION_INDEXER_H_
#define QUARRY_INDEX_INDEXER_COLLECTION_INDEXER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "index/collection_config.h"
#include "index/document.h"
#include "index/shard/manifest.h"
#include "index/shard/shard.h"
#include "index/text/analyzer.h"

namespace quarry {

struct IndexerOptions {
  // Threads for training, adding and analysing (bulk builds use all cores).
  int threads = 2;
  // Size-tiered merging: when at least this many shards have sizes within `merge_size_ratio`
  // of each other, they are merged into one.
  int merge_min_shards = 4;
  double merge_size_ratio = 4.0;
  // Retired shards, abandoned builds and covered log segments are deleted after this long, so
  // servers still loading the previous generation never find files missing.
  absl::Duration garbage_grace = absl::Minutes(2);
  // A new shard from the log holds at most this many chunks (bigger tails make several).
  int64_t max_chunks_per_shard = 1'000'000;
  // Crash-test seam (quarry-indexer --crash_at): called at the steps where a crash matters
  // most. "shard-writing": a new shard's files are half written (ShardBuildOptions::at_step);
  // "shard-built": a new shard is in place, the manifest does not name it yet;
  // "manifest-published": the new manifest is durable, nothing after it has run;
  // "garbage-collecting": retired shards are gone, covered log segments not yet.
  std::function<void(absl::string_view step)> at_step = [](absl::string_view) {};
};

struct IndexerStepResult {
  bool published = false;
  uint64_t generation = 0;
  int64_t documents = 0;
  int64_t chunks = 0;
  double seconds = 0;
};

// What one garbage collection removed (for logs and metrics).
struct GarbageCollected {
  int64_t shards = 0;
  int64_t log_segments = 0;
};

// Bytes of log records after the published manifest's position in `collection_directory`:
// how far the shards lag behind the log (0 when the indexer has caught up). Read from the
// files, so servers and the indexer report the same figure.
absl::StatusOr<uint64_t> LogBytesBehind(const std::string& collection_directory);

class CollectionIndexer {
 public:
  // UNAVAILABLE when another indexer holds the collection's lock.
  static absl::StatusOr<std::unique_ptr<CollectionIndexer>> Acquire(
      std::string collection_directory, CollectionConfig config, const IndexerOptions& options);
  ~CollectionIndexer();

  // Builds a shard from the log records after the manifest's position and publishes it
  // (with tombstones for the older shard copies those records replace or delete).
  absl::StatusOr<IndexerStepResult> IndexLog();

  // Merges one tier of similar-sized shards, dropping dead documents. No-op when no tier is
  // full.
  absl::StatusOr<IndexerStepResult> MergeShards();

  // Adds already chunked and embedded documents as a new shard (bulk build), newer than every
  // existing shard; the log tail stays newer than it.
  absl::StatusOr<IndexerStepResult> AddDocuments(const std::vector<StoredDocument>& documents);

  // Deletes crashed temporary builds at once, and retired shards and log segments before the
  // manifest's position once the manifest is older than the grace period.
  absl::StatusOr<GarbageCollected> CollectGarbage();

 private:
  CollectionIndexer(std::string directory, CollectionConfig config, IndexerOptions options,
                    int lock_fd);

  absl::StatusOr<std::shared_ptr<const Shard>> LoadShard(const std::string& id);
  absl::StatusOr<IndexerStepResult> PublishShard(Manifest manifest,
                                                 const std::vector<StoredDocument>& documents,
                                                 const std::vector<std::string>& touched_ids,
                                                 LogPosition log_position,
                                                 const std::vector<std::string>& replaced_shards);
  std::string NewShardId() const;

  const std::string directory_;
  const CollectionConfig config_;
  const IndexerOptions options_;
  const int lock_fd_;
  const text::Analyzer analyzer_;
  std::map<std::string, std::shared_ptr<const Shard>> shards_;  // loaded, by id
};

}  // namespace quarry

#endif  // QUARRY_INDEX_INDEXER_COLLECTION_INDEXER_H_
