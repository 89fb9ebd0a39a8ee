// Builds an immutable shard (format: shard_format.h) from chunked, embedded documents: the
// offline half of serving, run by the indexer. Chunks are labelled in document order, then
// chunk order; each is indexed lexically exactly as a collection indexes it (the analyzer's
// terms of title + chunk text, see text/chunk_text.h), so a chunk scores the same whether it
// is served from a shard or from the fresh in-memory index.
//
// Crash safety: everything is written into "<shards_dir>/.tmp-<shard_id>-<pid>/", each file
// fsync'd, SHARD last, then the directory is renamed to "<shards_dir>/<shard_id>" (never
// replacing one) and the parent fsync'd. A crash leaves at most a ".tmp-" directory, which is
// never taken for a shard (ListShardIds skips it) and which RemoveTemporaryDirectories clears.
#ifndef QUARRY_INDEX_SHARD_SHARD_BUILDER_H_
#define QUARRY_INDEX_SHARD_SHARD_BUILDER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "index/document.h"
#include "index/search/dense_index.h"
#include "index/text/analyzer.h"

namespace quarry {

struct ShardBuildOptions {
  int dimension = 0;
  std::string index_spec = "HNSW32";  // FAISS factory string
  Metric metric = Metric::kInnerProduct;
  int threads = 1;  // for term analysis, index training and adding
  // Crash-test seam (see IndexerOptions::at_step): "shard-writing" is reached when the dense
  // index file is written and the rest of the shard is not.
  std::function<void(absl::string_view step)> at_step = [](absl::string_view) {};
};

struct ShardInfo {
  std::string id;
  int64_t documents = 0;
  int64_t chunks = 0;
  int64_t bytes = 0;  // on disk, all files
  // False when the spec needed training and there were too few vectors: an exact flat index
  // was built instead.
  bool dense_trained = true;
};

class ShardBuilder {
 public:
  // Builds shard `shard_id` of `documents` in `shards_directory` (created if missing).
  // INVALID_ARGUMENT for a bad shard id (1..128 characters of [A-Za-z0-9_.-], not starting
  // with "."), bad options, or documents a shard cannot hold (empty or repeated ids, a chunk
  // without a vector of the right dimension, a chunk range outside its text, strings of 4 GiB
  // or more); ALREADY_EXISTS when the shard exists. Leaves no temporary directory behind
  // unless the process dies.
  static absl::StatusOr<ShardInfo> Build(const ShardBuildOptions& options,
                                         const std::vector<StoredDocument>& documents,
                                         const text::Analyzer& analyzer,
                                         const std::string& shards_directory,
                                         const std::string& shard_id);

  // Removes the ".tmp-" directories that crashed builds left in `shards_directory`. Only
  // for the one process that builds there (the indexer holding the collection's lock): it
  // would also remove a build in progress.
  static absl::Status RemoveTemporaryDirectories(const std::string& shards_directory);
};

}  // namespace quarry

#endif  // QUARRY_INDEX_SHARD_SHARD_BUILDER_H_
