#include "index/shard/shard_builder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "index/search/bm25_index.h"
#include "index/shard/shard_format.h"
#include "index/store/filesystem.h"
#include "index/text/chunk_text.h"

namespace quarry {
namespace {

using shard_format::FileEntry;

constexpr size_t kMaxShardIdLength = 128;
// Chunks analysed per round: enough to keep every thread busy, few enough that their terms
// (a few KiB a chunk) stay small next to the documents themselves.
constexpr size_t kAnalysisBatch = 8192;
constexpr size_t kWriteBufferBytes = 1 << 20;
constexpr uint64_t kMaxStringBytes = std::numeric_limits<uint32_t>::max();

bool IsShardIdCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

absl::Status ValidateShardId(const std::string& id) {
  if (id.empty() || id.size() > kMaxShardIdLength || id[0] == '.' ||
      !std::all_of(id.begin(), id.end(), IsShardIdCharacter)) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard id '", id, "' must be 1 to ", kMaxShardIdLength,
                     " characters of [A-Za-z0-9_.-], not starting with '.'"));
  }
  return absl::OkStatus();
}

absl::Status ValidateDocuments(const std::vector<StoredDocument>& documents, int dimension) {
  if (documents.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError("too many documents for one shard");
  }
  absl::flat_hash_set<absl::string_view> ids;
  ids.reserve(documents.size());
  for (size_t i = 0; i < documents.size(); ++i) {
    const StoredDocument& document = documents[i];
    auto invalid = [i](absl::string_view problem) {
      return absl::InvalidArgumentError(absl::StrCat("documents[", i, "]: ", problem));
    };
    if (document.id.empty()) return invalid("empty id");
    if (!ids.insert(document.id).second) {
      return invalid(absl::StrCat("id '", document.id, "' appears more than once"));
    }
    if (document.id.size() >= kMaxStringBytes || document.title.size() >= kMaxStringBytes ||
        document.text.size() >= kMaxStringBytes) {
      return invalid("a string of 4 GiB or more");
    }
    if (document.chunks.size() >= kMaxStringBytes) return invalid("too many chunks");
    for (size_t c = 0; c < document.chunks.size(); ++c) {
      const StoredChunk& chunk = document.chunks[c];
      if (chunk.start > chunk.end || chunk.end > document.text.size()) {
        return invalid(absl::StrCat("chunk ", c, " range [", chunk.start, ", ", chunk.end,
                                    ") lies outside the text"));
      }
      if (chunk.vector.size() != static_cast<size_t>(dimension)) {
        return invalid(absl::StrCat("chunk ", c, " has a vector of dimension ", chunk.vector.size(),
                                    ", the shard has ", dimension));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, const std::string& path, absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", path, errno);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// A new file written front to back through a buffer, with a running CRC-32. Finish fsyncs
// and closes it and says what SHARD records about it.
class FileSink {
 public:
  explicit FileSink(std::string path) : path_(std::move(path)) {}
  ~FileSink() {
    if (fd_ >= 0) close(fd_);
  }
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  absl::Status Open() {
    fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) return ErrnoStatus("open", path_, errno);
    buffer_.reserve(kWriteBufferBytes);
    return absl::OkStatus();
  }

  absl::Status Append(absl::string_view bytes) {
    crc_ = shard_format::Crc32(bytes, crc_);
    size_ += bytes.size();
    if (buffer_.size() + bytes.size() > kWriteBufferBytes) {
      if (absl::Status s = Flush(); !s.ok()) return s;
      if (bytes.size() >= kWriteBufferBytes) return WriteAll(fd_, path_, bytes);
    }
    buffer_.append(bytes.data(), bytes.size());
    return absl::OkStatus();
  }

  absl::StatusOr<FileEntry> Finish(absl::string_view name) {
    if (absl::Status s = Flush(); !s.ok()) return s;
    if (fsync(fd_) != 0) return ErrnoStatus("fsync", path_, errno);
    const int fd = fd_;
    fd_ = -1;
    if (close(fd) != 0) return ErrnoStatus("close", path_, errno);
    return FileEntry{std::string(name), size_, crc_};
  }

 private:
  absl::Status Flush() {
    absl::Status status = WriteAll(fd_, path_, buffer_);
    buffer_.clear();
    return status;
  }

  std::string path_;
  int fd_ = -1;
  std::string buffer_;
  uint32_t crc_ = 0;
  uint64_t size_ = 0;
};

absl::StatusOr<FileEntry> WriteFile(const std::string& directory, absl::string_view name,
                                    absl::string_view contents) {
  FileSink sink(absl::StrCat(directory, "/", name));
  if (absl::Status s = sink.Open(); !s.ok()) return s;
  if (absl::Status s = sink.Append(contents); !s.ok()) return s;
  return sink.Finish(name);
}

// Size and CRC-32 of a file written by someone else (FAISS).
absl::StatusOr<FileEntry> DescribeFile(const std::string& directory, absl::string_view name) {
  const std::string path = absl::StrCat(directory, "/", name);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  FileEntry entry{std::string(name), 0, 0};
  std::vector<char> buffer(kWriteBufferBytes);
  while (true) {
    const ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      close(fd);
      return ErrnoStatus("read", path, error);
    }
    if (n == 0) break;
    entry.crc32 =
        shard_format::Crc32(absl::string_view(buffer.data(), static_cast<size_t>(n)), entry.crc32);
    entry.size += static_cast<uint64_t>(n);
  }
  close(fd);
  return entry;
}

// Runs `work` on the calling thread and up to threads - 1 more; returns when all are done.
// Work is shared through the caller's own counter, so if a thread cannot be started the
// others still finish everything.
template <typename Work>
void RunOnThreads(int threads, const Work& work) {
  std::vector<std::thread> helpers;
  for (int t = 1; t < threads; ++t) {
    try {
      helpers.emplace_back(work);
    } catch (const std::system_error&) {
      break;
    }
  }
  work();
  for (std::thread& helper : helpers) helper.join();
}

// The BM25 index of every chunk, labelled in document order then chunk order. Terms are
// computed in parallel batches and added in label order.
Bm25Index IndexTerms(const std::vector<StoredDocument>& documents, const text::Analyzer& analyzer,
                     int threads) {
  struct ChunkRef {
    const StoredDocument* document;
    const StoredChunk* chunk;
  };
  std::vector<ChunkRef> chunks;
  for (const StoredDocument& document : documents) {
    for (const StoredChunk& chunk : document.chunks) chunks.push_back({&document, &chunk});
  }
  Bm25Index lexical;
  std::vector<std::vector<std::string>> terms(std::min(kAnalysisBatch, chunks.size()));
  for (size_t start = 0; start < chunks.size(); start += kAnalysisBatch) {
    const size_t count = std::min(kAnalysisBatch, chunks.size() - start);
    std::atomic<size_t> next{0};
    auto analyze = [&] {
      for (size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
        const ChunkRef& ref = chunks[start + i];
        const absl::string_view text = ref.document->text;
        terms[i] = analyzer.Terms(text::ChunkTextWithTitle(
            ref.document->title, text.substr(ref.chunk->start, ref.chunk->end - ref.chunk->start)));
      }
    };
    RunOnThreads(std::min<int>(threads, static_cast<int>(count)), analyze);
    for (size_t i = 0; i < count; ++i) {
      lexical.Add(static_cast<int64_t>(start + i), terms[i]);
    }
  }
  return lexical;
}

// Removes a build's temporary directory unless the build got as far as publishing it.
class TemporaryDirectory {
 public:
  explicit TemporaryDirectory(std::string path) : path_(std::move(path)) {}
  ~TemporaryDirectory() {
    if (!released_) RemoveAll(path_).IgnoreError();
  }
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  const std::string& path() const { return path_; }
  void Release() { released_ = true; }

 private:
  std::string path_;
  bool released_ = false;
};

}  // namespace

absl::StatusOr<ShardInfo> ShardBuilder::Build(const ShardBuildOptions& options,
                                              const std::vector<StoredDocument>& documents,
                                              const text::Analyzer& analyzer,
                                              const std::string& shards_directory,
                                              const std::string& shard_id) {
  if (absl::Status s = ValidateShardId(shard_id); !s.ok()) return s;
  if (options.threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads must be at least 1, got ", options.threads));
  }
  if (absl::Status s = ValidateDocuments(documents, options.dimension); !s.ok()) return s;
  const std::string final_directory = absl::StrCat(shards_directory, "/", shard_id);
  struct stat info;
  if (stat(final_directory.c_str(), &info) == 0) {
    return absl::AlreadyExistsError(absl::StrCat("shard ", final_directory, " already exists"));
  }

  ShardInfo result;
  result.id = shard_id;
  result.documents = static_cast<int64_t>(documents.size());
  std::unique_ptr<DenseIndex> dense;
  {
    std::vector<float> vectors;
    for (const StoredDocument& document : documents) result.chunks += document.chunks.size();
    vectors.reserve(static_cast<size_t>(result.chunks) * static_cast<size_t>(options.dimension));
    for (const StoredDocument& document : documents) {
      for (const StoredChunk& chunk : document.chunks) {
        vectors.insert(vectors.end(), chunk.vector.begin(), chunk.vector.end());
      }
    }
    absl::StatusOr<std::unique_ptr<DenseIndex>> built = DenseIndex::Build(
        options.dimension, options.index_spec, options.metric, vectors, options.threads);
    if (!built.ok()) return built.status();
    dense = *std::move(built);
  }
  result.dense_trained = dense->trained();
  const Bm25Index lexical = IndexTerms(documents, analyzer, options.threads);

  if (absl::Status s = CreateDirectories(shards_directory); !s.ok()) return s;
  TemporaryDirectory temporary(
      absl::StrCat(shards_directory, "/", shard_format::kTemporaryPrefix, shard_id, "-", getpid()));
  // A directory of this name can only be left by a crashed process that had our pid.
  if (absl::Status s = RemoveAll(temporary.path()); !s.ok()) return s;
  if (mkdir(temporary.path().c_str(), 0755) != 0) {
    return ErrnoStatus("mkdir", temporary.path(), errno);
  }

  shard_format::ShardHeader header;
  header.shard_id = shard_id;
  header.documents = static_cast<uint64_t>(result.documents);
  header.chunks = static_cast<uint64_t>(result.chunks);
  header.dimension = options.dimension;
  header.metric = options.metric;
  header.dense_trained = result.dense_trained;
  header.index_spec = options.index_spec;

  if (absl::Status s =
          dense->WriteToFile(absl::StrCat(temporary.path(), "/", shard_format::kDenseFile));
      !s.ok()) {
    return s;
  }
  dense.reset();
  absl::StatusOr<FileEntry> entry = DescribeFile(temporary.path(), shard_format::kDenseFile);
  if (!entry.ok()) return entry.status();
  header.files.push_back(*std::move(entry));
  options.at_step("shard-writing");

  entry = WriteFile(temporary.path(), shard_format::kLexicalFile, lexical.Serialize());
  if (!entry.ok()) return entry.status();
  header.files.push_back(*std::move(entry));

  {
    FileSink chunks(absl::StrCat(temporary.path(), "/", shard_format::kChunksFile));
    if (absl::Status s = chunks.Open(); !s.ok()) return s;
    if (absl::Status s = shard_format::EncodeChunkStore(
            documents, [&chunks](absl::string_view bytes) { return chunks.Append(bytes); });
        !s.ok()) {
      return s;
    }
    entry = chunks.Finish(shard_format::kChunksFile);
    if (!entry.ok()) return entry.status();
    header.files.push_back(*std::move(entry));
  }

  // SHARD last: a directory with a valid SHARD has every other file complete.
  entry = WriteFile(temporary.path(), shard_format::kHeaderFile,
                    shard_format::EncodeShardHeader(header));
  if (!entry.ok()) return entry.status();
  for (const FileEntry& file : header.files) result.bytes += static_cast<int64_t>(file.size);
  result.bytes += static_cast<int64_t>(entry->size);

  if (absl::Status s = SyncDirectory(temporary.path()); !s.ok()) return s;
  if (absl::Status s = RenameNoReplace(temporary.path(), final_directory); !s.ok()) return s;
  temporary.Release();
  return result;
}

absl::Status ShardBuilder::RemoveTemporaryDirectories(const std::string& shards_directory) {
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(shards_directory);
  if (!names.ok()) {
    return absl::IsNotFound(names.status()) ? absl::OkStatus() : names.status();
  }
  for (const std::string& name : *names) {
    if (absl::string_view(name).substr(0, sizeof(shard_format::kTemporaryPrefix) - 1) ==
        shard_format::kTemporaryPrefix) {
      if (absl::Status s = RemoveAll(absl::StrCat(shards_directory, "/", name)); !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace quarry
