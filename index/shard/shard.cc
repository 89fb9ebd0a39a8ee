#include "index/shard/shard.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "index/shard/mapped_file.h"
#include "index/shard/shard_format.h"
#include "index/store/filesystem.h"

namespace quarry {
namespace {

using shard_format::FileEntry;
using shard_format::ShardHeader;

// `directory` without trailing slashes, and its last component.
std::string TrimSlashes(std::string directory) {
  while (directory.size() > 1 && directory.back() == '/') directory.pop_back();
  return directory;
}

absl::string_view BaseName(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

// The same error with "shard <directory>: " in front, so a caller knows which shard failed.
absl::Status InShard(const std::string& directory, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("shard ", directory, ": ", status.message()));
}

absl::Status ShardDataLoss(const std::string& directory, absl::string_view message) {
  return absl::DataLossError(absl::StrCat("shard ", directory, ": ", message));
}

const FileEntry* FindEntry(const ShardHeader& header, absl::string_view name) {
  for (const FileEntry& entry : header.files) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

// Maps a file the header lists and checks its size and checksum against the header.
absl::StatusOr<MappedFile> MapVerified(const std::string& directory, const FileEntry& entry) {
  absl::StatusOr<MappedFile> file = MappedFile::Open(absl::StrCat(directory, "/", entry.name));
  if (!file.ok()) {
    if (absl::IsNotFound(file.status())) {
      return ShardDataLoss(directory, absl::StrCat(entry.name, " is missing"));
    }
    return InShard(directory, file.status());
  }
  if (file->size() != entry.size) {
    return ShardDataLoss(directory, absl::StrCat(entry.name, " is ", file->size(),
                                                 " bytes, SHARD says ", entry.size));
  }
  const uint32_t crc = shard_format::Crc32(file->bytes());
  if (crc != entry.crc32) {
    return ShardDataLoss(directory, absl::StrFormat("%s checksum mismatch (crc32 %08x, SHARD "
                                                    "says %08x)",
                                                    entry.name, crc, entry.crc32));
  }
  return file;
}

absl::StatusOr<ShardHeader> ReadHeader(const std::string& directory) {
  absl::StatusOr<std::string> bytes =
      ReadFile(absl::StrCat(directory, "/", shard_format::kHeaderFile));
  if (!bytes.ok()) {
    if (absl::IsNotFound(bytes.status())) {
      return ShardDataLoss(directory, absl::StrCat(shard_format::kHeaderFile, " is missing"));
    }
    return InShard(directory, bytes.status());
  }
  absl::StatusOr<ShardHeader> header = shard_format::DecodeShardHeader(*bytes);
  if (!header.ok()) return InShard(directory, header.status());
  for (const char* name :
       {shard_format::kDenseFile, shard_format::kLexicalFile, shard_format::kChunksFile}) {
    if (FindEntry(*header, name) == nullptr) {
      return ShardDataLoss(directory, absl::StrCat("SHARD does not list ", name));
    }
  }
  header->files.shrink_to_fit();
  return header;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Shard>> Shard::Open(const std::string& path, int dimension,
                                                   Metric metric) {
  const std::string directory = TrimSlashes(path);
  struct stat info;
  if (stat(directory.c_str(), &info) != 0) {
    const int error = errno;
    if (error == ENOENT) {
      return absl::NotFoundError(absl::StrCat("shard ", directory, " does not exist"));
    }
    return ErrnoStatus("stat", directory, error);
  }
  if (!S_ISDIR(info.st_mode)) {
    return absl::NotFoundError(absl::StrCat("shard ", directory, " is not a directory"));
  }

  std::unique_ptr<Shard> shard(new Shard());
  shard->directory_ = directory;
  absl::StatusOr<ShardHeader> header = ReadHeader(directory);
  if (!header.ok()) return header.status();
  shard->header_ = *std::move(header);
  const ShardHeader& h = shard->header_;
  if (h.shard_id != BaseName(directory)) {
    return ShardDataLoss(directory, absl::StrCat("SHARD names shard '", h.shard_id, "'"));
  }
  if (h.dimension != dimension || h.metric != metric) {
    return ShardDataLoss(
        directory, absl::StrCat("SHARD says dimension ", h.dimension, " and metric ",
                                h.metric == Metric::kL2 ? "L2" : "inner product",
                                "; the collection expects dimension ", dimension, " and metric ",
                                metric == Metric::kL2 ? "L2" : "inner product"));
  }
  struct stat header_info;
  if (stat(absl::StrCat(directory, "/", shard_format::kHeaderFile).c_str(), &header_info) == 0) {
    shard->bytes_ = static_cast<int64_t>(header_info.st_size);
  }
  for (const FileEntry& entry : h.files) shard->bytes_ += static_cast<int64_t>(entry.size);

  // The lexical index decodes on a second thread while this one checks and loads the chunk
  // store and the dense index: about halves Open for large shards.
  absl::Status lexical_status;
  auto load_lexical = [&] {
    lexical_status = shard->LoadLexical(*FindEntry(h, shard_format::kLexicalFile));
  };
  std::thread helper;
  try {
    helper = std::thread(load_lexical);
  } catch (const std::system_error&) {
    load_lexical();  // no thread to be had: do it here
  }
  absl::Status status = shard->LoadChunks(*FindEntry(h, shard_format::kChunksFile));
  if (status.ok()) status = shard->LoadDense(*FindEntry(h, shard_format::kDenseFile));
  if (helper.joinable()) helper.join();
  if (status.ok()) status = lexical_status;
  // Files a later format version may add are checked too, though this one does not use them.
  for (const FileEntry& entry : h.files) {
    if (!status.ok()) break;
    if (entry.name != shard_format::kChunksFile && entry.name != shard_format::kLexicalFile &&
        entry.name != shard_format::kDenseFile) {
      status = MapVerified(directory, entry).status();
    }
  }
  if (!status.ok()) return status;

  if (static_cast<uint64_t>(shard->lexical_.live_chunks()) != h.chunks) {
    return ShardDataLoss(
        directory, absl::StrCat(shard_format::kLexicalFile, " holds ",
                                shard->lexical_.live_chunks(), " chunks, SHARD says ", h.chunks));
  }
  return shard;
}

absl::Status Shard::LoadChunks(const FileEntry& entry) {
  absl::StatusOr<MappedFile> file = MapVerified(directory_, entry);
  if (!file.ok()) return file.status();
  chunks_file_ = *std::move(file);
  absl::StatusOr<shard_format::ChunkStoreView> store =
      shard_format::ChunkStoreView::Parse(chunks_file_.bytes());
  if (!store.ok()) return InShard(directory_, store.status());
  store_ = *store;
  if (static_cast<uint64_t>(store_.document_count()) != header_.documents ||
      static_cast<uint64_t>(store_.chunk_count()) != header_.chunks) {
    return ShardDataLoss(
        directory_, absl::StrCat(entry.name, " holds ", store_.document_count(), " documents and ",
                                 store_.chunk_count(), " chunks, SHARD says ", header_.documents,
                                 " and ", header_.chunks));
  }
  const int32_t documents = document_count();
  metadata_.resize(static_cast<size_t>(documents));
  documents_by_id_.reserve(static_cast<size_t>(documents));
  for (int32_t i = 0; i < documents; ++i) {
    const shard_format::DocumentRecord record = store_.document(i);
    if (absl::Status status = shard_format::DecodeMetadata(
            store_.String(record.metadata_offset, record.metadata_length),
            &metadata_[static_cast<size_t>(i)]);
        !status.ok()) {
      return InShard(directory_, absl::Status(status.code(), absl::StrCat("document ", i, ": ",
                                                                          status.message())));
    }
    const absl::string_view id = store_.String(record.id_offset, record.id_length);
    if (!documents_by_id_.emplace(id, i).second) {
      return ShardDataLoss(directory_, absl::StrCat(entry.name, ": document id repeated: ", id));
    }
  }
  return absl::OkStatus();
}

absl::Status Shard::LoadLexical(const FileEntry& entry) {
  absl::StatusOr<MappedFile> file = MapVerified(directory_, entry);
  if (!file.ok()) return file.status();
  absl::StatusOr<Bm25Index> lexical = Bm25Index::Deserialize(file->bytes());
  if (!lexical.ok()) {
    return InShard(directory_,
                   absl::Status(lexical.status().code(),
                                absl::StrCat(entry.name, ": ", lexical.status().message())));
  }
  lexical_ = *std::move(lexical);
  return absl::OkStatus();
}

absl::Status Shard::LoadDense(const FileEntry& entry) {
  // Checked before FAISS sees it: FAISS reads a corrupt file without noticing, or crashes.
  if (absl::Status status = MapVerified(directory_, entry).status(); !status.ok()) {
    return status;
  }
  absl::StatusOr<std::unique_ptr<DenseIndex>> dense =
      DenseIndex::ReadFromFile(absl::StrCat(directory_, "/", entry.name), header_.dimension,
                               header_.metric, header_.dense_trained);
  if (!dense.ok()) return InShard(directory_, dense.status());
  dense_ = *std::move(dense);
  if (static_cast<uint64_t>(dense_->size()) != header_.chunks) {
    return ShardDataLoss(
        directory_, absl::StrCat(entry.name, " holds ", dense_->size(), " vectors, SHARD says ",
                                 header_.chunks, " chunks"));
  }
  return absl::OkStatus();
}

DocumentView Shard::document(int32_t index) const {
  const shard_format::DocumentRecord record = store_.document(index);
  DocumentView view;
  view.id = store_.String(record.id_offset, record.id_length);
  view.title = store_.String(record.title_offset, record.title_length);
  view.text = store_.String(record.text_offset, record.text_length);
  view.metadata = &metadata_[static_cast<size_t>(index)];
  view.first_label = record.first_label;
  view.chunk_count = static_cast<int32_t>(record.chunk_count);
  return view;
}

ChunkView Shard::chunk(int64_t label) const {
  const shard_format::ChunkRecord record = store_.chunk(label);
  return ChunkView{static_cast<int32_t>(record.document_index),
                   static_cast<int32_t>(record.chunk_index), record.start, record.end};
}

absl::string_view Shard::chunk_text(int64_t label) const {
  const shard_format::ChunkRecord chunk = store_.chunk(label);
  const shard_format::DocumentRecord document =
      store_.document(static_cast<int64_t>(chunk.document_index));
  return store_.String(document.text_offset + chunk.start, chunk.end - chunk.start);
}

std::optional<int32_t> Shard::FindDocument(absl::string_view id) const {
  const auto it = documents_by_id_.find(id);
  if (it == documents_by_id_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::vector<std::string>> ListShardIds(const std::string& shards_directory) {
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(shards_directory);
  if (!names.ok()) {
    if (absl::IsNotFound(names.status())) return std::vector<std::string>();
    return names.status();
  }
  std::vector<std::string> ids;
  for (std::string& name : *names) {
    if (name.empty() || name[0] == '.') continue;
    struct stat info;
    const std::string path = absl::StrCat(shards_directory, "/", name);
    if (stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) ids.push_back(std::move(name));
  }
  return ids;
}

}  // namespace quarry
