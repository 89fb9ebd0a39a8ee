// The on-disk format of an immutable shard, shared by the builder (writes) and Shard (reads).
//
// A shard is a directory <shards_dir>/<shard_id>/ holding
//   dense.faiss  the FAISS index (faiss::write_index), label = position
//   lexical.bin  the BM25 index (Bm25Index::Serialize)
//   chunks.bin   the chunk store: documents and chunks, laid out for reading in place
//   SHARD        written last: what the shard holds and each other file's size and CRC-32
//
// SHARD v1 (little-endian; "str" is u32 length + bytes):
//   u32 magic "QSHD", u32 format version = 1, str shard id,
//   u64 documents, u64 chunks, u32 dimension, u8 metric (0 inner product, 1 L2),
//   u8 dense trained (0: the spec needed training and a flat index serves), u16 zero,
//   str index spec, u32 file count, each: str name, u64 size, u32 crc32,
//   u32 crc32 of every byte before it.
//
// chunks.bin v1 (little-endian; tables 8-byte aligned so they can be read from a mapping):
//   header (64 bytes): u32 magic "QCHK", u32 version = 1, u64 documents D, u64 chunks C,
//     u64 document table offset (= 64), u64 chunk table offset, u64 string region offset,
//     u64 string region size, u64 zero
//   document table: D x DocumentRecord (64 bytes), in document order
//   chunk table: C x ChunkRecord (16 bytes), by label (document order, then chunk order)
//   string region: per document its id, title, text and metadata blob, back to back;
//     the file ends with it. Offsets in the document table are relative to its start.
//   metadata blob: varint count, each: varint key length, key (keys increasing), u8 kind
//     (0 string: varint length + bytes, 1 number: f64, 2 bool: u8 0/1).
#ifndef QUARRY_INDEX_SHARD_SHARD_FORMAT_H_
#define QUARRY_INDEX_SHARD_SHARD_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "index/document.h"
#include "index/search/dense_index.h"

namespace quarry::shard_format {

inline constexpr char kDenseFile[] = "dense.faiss";
inline constexpr char kLexicalFile[] = "lexical.bin";
inline constexpr char kChunksFile[] = "chunks.bin";
inline constexpr char kHeaderFile[] = "SHARD";
// Builds write into "<shards_dir>/.tmp-<shard_id>-<pid>/"; names starting with "." are never
// shards.
inline constexpr char kTemporaryPrefix[] = ".tmp-";

inline constexpr uint32_t kFormatVersion = 1;

// The CRC-32 of zlib (and gzip) of `bytes`, continuing from `crc` (0 to start).
uint32_t Crc32(absl::string_view bytes, uint32_t crc = 0);

// --- SHARD -----------------------------------------------------------------------------------

struct FileEntry {
  std::string name;
  uint64_t size = 0;
  uint32_t crc32 = 0;
};

struct ShardHeader {
  std::string shard_id;
  uint64_t documents = 0;
  uint64_t chunks = 0;
  int32_t dimension = 0;
  Metric metric = Metric::kInnerProduct;
  bool dense_trained = true;
  std::string index_spec;
  std::vector<FileEntry> files;
};

std::string EncodeShardHeader(const ShardHeader& header);
// DATA_LOSS ("SHARD: ...") for a file that is not a SHARD header this version can read.
absl::StatusOr<ShardHeader> DecodeShardHeader(absl::string_view bytes);

// --- chunks.bin ------------------------------------------------------------------------------

struct DocumentRecord {
  uint64_t id_offset;
  uint64_t title_offset;
  uint64_t text_offset;
  uint64_t metadata_offset;
  uint32_t id_length;
  uint32_t title_length;
  uint32_t text_length;
  uint32_t metadata_length;
  int64_t first_label;
  uint32_t chunk_count;
  uint32_t reserved;
};
static_assert(sizeof(DocumentRecord) == 64);

struct ChunkRecord {
  uint32_t document_index;
  uint32_t chunk_index;
  uint32_t start;  // byte range [start, end) of the document's text
  uint32_t end;
};
static_assert(sizeof(ChunkRecord) == 16);

void EncodeMetadata(const Metadata& metadata, std::string* out);
// DATA_LOSS for a blob EncodeMetadata did not produce.
absl::Status DecodeMetadata(absl::string_view blob, Metadata* metadata);

// Streams the chunk store of `documents` to `write`, header first. Preconditions (the builder
// checks them): every string is shorter than 4 GiB, chunk ranges lie inside their text.
absl::Status EncodeChunkStore(const std::vector<StoredDocument>& documents,
                              absl::FunctionRef<absl::Status(absl::string_view)> write);

// Reads a chunk store in place (the bytes must outlive the view). Parse checks the whole
// layout once, so that the accessors need no checks: every range lies inside the file, labels
// follow documents in order, chunk ranges lie inside their document's text.
class ChunkStoreView {
 public:
  // DATA_LOSS ("chunks.bin: ...") for bytes that are not a consistent chunk store.
  static absl::StatusOr<ChunkStoreView> Parse(absl::string_view bytes);

  ChunkStoreView() = default;

  int64_t document_count() const { return static_cast<int64_t>(documents_); }
  int64_t chunk_count() const { return static_cast<int64_t>(chunks_); }
  // Preconditions: 0 <= index < document_count(), 0 <= label < chunk_count().
  DocumentRecord document(int64_t index) const;
  ChunkRecord chunk(int64_t label) const;
  absl::string_view String(uint64_t offset, uint32_t length) const {
    return strings_.substr(offset, length);
  }

 private:
  absl::string_view bytes_;
  absl::string_view strings_;
  uint64_t documents_ = 0;
  uint64_t chunks_ = 0;
  uint64_t chunk_table_offset_ = 0;
};

}  // namespace quarry::shard_format

#endif  // QUARRY_INDEX_SHARD_SHARD_FORMAT_H_
