// An immutable shard opened for serving: the unit the indexer builds offline (ShardBuilder)
// and servers load. Opening checks every file against the sizes and CRC-32s in SHARD before
// using any of it, so a corrupt or truncated shard is refused (DATA_LOSS naming the file)
// instead of served. Then the chunk store is memory-mapped and read in place (ids, titles and
// texts are views into the mapping), the dense index is loaded with FAISS (IVF lists mapped
// too), the lexical index and every document's metadata are decoded into memory (filters need
// the metadata), and an id -> document map is built.
//
// Labels are positions: a shard's chunks are labelled 0..chunk_count()-1 in document order,
// then chunk order, in both the dense and the lexical index. A Shard is never modified after
// Open, so any number of threads may use it concurrently.
#ifndef QUARRY_INDEX_SHARD_SHARD_H_
#define QUARRY_INDEX_SHARD_SHARD_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "index/document.h"
#include "index/search/bm25_index.h"
#include "index/search/dense_index.h"
#include "index/shard/mapped_file.h"
#include "index/shard/shard_format.h"

namespace quarry {

// A document of a shard. The views point into the shard's mapping: valid while it is open.
struct DocumentView {
  absl::string_view id;
  absl::string_view title;
  absl::string_view text;
  const Metadata* metadata = nullptr;  // never null
  int64_t first_label = 0;             // its chunks are first_label .. first_label+chunk_count-1
  int32_t chunk_count = 0;
};

// A chunk of a shard: which document it belongs to and its byte range in that text.
struct ChunkView {
  int32_t document_index = 0;
  int32_t chunk_index = 0;  // position among its document's chunks
  uint32_t start = 0;
  uint32_t end = 0;
};

class Shard {
 public:
  // Opens the shard in `directory` (<shards_dir>/<shard_id>). NOT_FOUND when the directory
  // does not exist; DATA_LOSS naming the file when SHARD is unreadable, a file is missing,
  // has the wrong size or checksum, is inconsistent, or the shard's dimension or metric are
  // not the expected ones.
  static absl::StatusOr<std::unique_ptr<Shard>> Open(const std::string& directory, int dimension,
                                                     Metric metric);

  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  const std::string& id() const { return header_.shard_id; }
  const std::string& directory() const { return directory_; }
  int32_t document_count() const { return static_cast<int32_t>(store_.document_count()); }
  int64_t chunk_count() const { return store_.chunk_count(); }
  // Bytes on disk, SHARD included.
  int64_t bytes() const { return bytes_; }
  const std::string& index_spec() const { return header_.index_spec; }

  // Preconditions: 0 <= index < document_count(), 0 <= label < chunk_count().
  DocumentView document(int32_t index) const;
  ChunkView chunk(int64_t label) const;
  // The text of chunk `label` (without its title).
  absl::string_view chunk_text(int64_t label) const;

  // The index of the document with `id`, if the shard holds it.
  std::optional<int32_t> FindDocument(absl::string_view id) const;

  const DenseIndex& dense() const { return *dense_; }
  const Bm25Index& lexical() const { return lexical_; }

 private:
  Shard() = default;

  // Each loads one file (already known to be listed in header_) into its own members, so
  // they can run on different threads.
  absl::Status LoadChunks(const shard_format::FileEntry& entry);
  absl::Status LoadLexical(const shard_format::FileEntry& entry);
  absl::Status LoadDense(const shard_format::FileEntry& entry);

  std::string directory_;
  shard_format::ShardHeader header_;
  int64_t bytes_ = 0;
  MappedFile chunks_file_;
  shard_format::ChunkStoreView store_;                               // views chunks_file_
  std::vector<Metadata> metadata_;                                   // by document index
  absl::flat_hash_map<absl::string_view, int32_t> documents_by_id_;  // views chunks_file_
  std::unique_ptr<DenseIndex> dense_;
  Bm25Index lexical_;
};

// The ids of the complete shards in `shards_directory`: its subdirectories whose names do not
// start with "." (builds in progress or crashed ones are ".tmp-..."), sorted. Empty when the
// directory does not exist.
absl::StatusOr<std::vector<std::string>> ListShardIds(const std::string& shards_directory);

}  // namespace quarry

#endif  // QUARRY_INDEX_SHARD_SHARD_H_
