#include "index/indexer/collection_indexer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "index/shard/shard_builder.h"
#include "index/store/filesystem.h"
#include "index/store/ingest_log.h"

namespace quarry {
namespace {

constexpr char kLockFileName[] = "INDEXER.lock";

double SecondsSince(absl::Time start) { return absl::ToDoubleSeconds(absl::Now() - start); }

// Modification time of a path, or nullopt when it does not exist.
std::optional<absl::Time> ModificationTime(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return std::nullopt;
  return absl::TimeFromTimespec(info.st_mtim);
}

// "<20-digit number>.qlog" -> number.
std::optional<uint64_t> SegmentNumber(absl::string_view name) {
  if (!absl::EndsWith(name, ".qlog")) return std::nullopt;
  name.remove_suffix(5);
  uint64_t number = 0;
  if (!absl::SimpleAtoi(name, &number)) return std::nullopt;
  return number;
}

// The documents a stretch of the log leaves live, in first-touch order, and every id it
// touched (upserted or deleted).
struct LogTail {
  std::vector<StoredDocument> documents;
  std::vector<std::string> touched_ids;
  LogPosition end;
  int64_t chunks = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CollectionIndexer>> CollectionIndexer::Acquire(
    std::string collection_directory, CollectionConfig config, const IndexerOptions& options) {
  const std::string lock_path = absl::StrCat(collection_directory, "/", kLockFileName);
  const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open", lock_path, errno);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    close(fd);
    if (error == EWOULDBLOCK) {
      return absl::UnavailableError(absl::StrCat("another quarry-indexer is indexing collection '",
                                                 config.name, "' (it holds ", lock_path, ")"));
    }
    return ErrnoStatus("flock", lock_path, error);
  }
  return std::unique_ptr<CollectionIndexer>(
      new CollectionIndexer(std::move(collection_directory), std::move(config), options, fd));
}

CollectionIndexer::CollectionIndexer(std::string directory, CollectionConfig config,
                                     IndexerOptions options, int lock_fd)
    : directory_(std::move(directory)),
      config_(std::move(config)),
      options_(options),
      lock_fd_(lock_fd) {}

CollectionIndexer::~CollectionIndexer() { close(lock_fd_); }  // releases the flock

std::string CollectionIndexer::NewShardId() const {
  absl::BitGen random;
  return absl::StrFormat("%016x-%08x", absl::ToUnixNanos(absl::Now()),
                         absl::Uniform<uint32_t>(random));
}

absl::StatusOr<std::shared_ptr<const Shard>> CollectionIndexer::LoadShard(const std::string& id) {
  if (auto it = shards_.find(id); it != shards_.end()) return it->second;
  absl::StatusOr<std::unique_ptr<Shard>> shard =
      Shard::Open(absl::StrCat(directory_, "/shards/", id), config_.dimension, config_.metric);
  if (!shard.ok()) return shard.status();
  std::shared_ptr<const Shard> loaded = *std::move(shard);
  shards_[id] = loaded;
  return loaded;
}

absl::StatusOr<IndexerStepResult> CollectionIndexer::PublishShard(
    Manifest manifest, const std::vector<StoredDocument>& documents,
    const std::vector<std::string>& touched_ids, LogPosition log_position,
    const std::vector<std::string>& replaced_shards) {
  const absl::Time start = absl::Now();
  IndexerStepResult result;
  // Older copies of every touched document become tombstones in the shards that hold them.
  for (const ManifestShard& entry : manifest.shards) {
    if (std::find(replaced_shards.begin(), replaced_shards.end(), entry.id) !=
        replaced_shards.end()) {
      continue;
    }
    absl::StatusOr<std::shared_ptr<const Shard>> shard = LoadShard(entry.id);
    if (!shard.ok()) return shard.status();
    std::vector<std::string>& tombstones = manifest.tombstones[entry.id];
    absl::flat_hash_set<std::string> present(tombstones.begin(), tombstones.end());
    for (const std::string& id : touched_ids) {
      if ((*shard)->FindDocument(id).has_value() && present.insert(id).second) {
        tombstones.push_back(id);
      }
    }
    if (tombstones.empty()) manifest.tombstones.erase(entry.id);
  }
  std::vector<ManifestShard> shards;
  for (const ManifestShard& entry : manifest.shards) {
    if (std::find(replaced_shards.begin(), replaced_shards.end(), entry.id) ==
        replaced_shards.end()) {
      shards.push_back(entry);
    } else {
      manifest.tombstones.erase(entry.id);
    }
  }
  if (!documents.empty()) {
    ShardBuildOptions build_options;
    build_options.dimension = config_.dimension;
    build_options.index_spec = config_.index_spec;
    build_options.metric = config_.metric;
    build_options.threads = options_.threads;
    build_options.at_step = options_.at_step;
    const std::string id = NewShardId();
    absl::StatusOr<ShardInfo> info =
        ShardBuilder::Build(build_options, documents, analyzer_, directory_ + "/shards", id);
    if (!info.ok()) return info.status();
    options_.at_step("shard-built");
    shards.push_back(ManifestShard{id, info->documents, info->chunks});
    result.documents = info->documents;
    result.chunks = info->chunks;
  }
  manifest.shards = std::move(shards);
  manifest.generation += 1;
  manifest.log_position = log_position;
  if (absl::Status status = PublishManifest(directory_, manifest); !status.ok()) return status;
  options_.at_step("manifest-published");
  for (const std::string& id : replaced_shards) shards_.erase(id);
  result.published = true;
  result.generation = manifest.generation;
  result.seconds = SecondsSince(start);
  return result;
}

absl::StatusOr<IndexerStepResult> CollectionIndexer::IndexLog() {
  absl::StatusOr<Manifest> manifest = ReadManifest(directory_);
  if (!manifest.ok()) return manifest.status();

  // The final state of each document the tail touches: later records win.
  LogTail tail;
  tail.end = manifest->log_position;
  absl::flat_hash_map<std::string, size_t> slot_of;  // id -> index in `latest`
  std::vector<std::optional<StoredDocument>> latest;
  const absl::Status enough = absl::CancelledError("shard is full");
  auto touch = [&](const std::string& id) -> std::optional<StoredDocument>& {
    auto [it, inserted] = slot_of.emplace(id, latest.size());
    if (inserted) {
      latest.emplace_back();
      tail.touched_ids.push_back(id);
    }
    return latest[it->second];
  };
  absl::StatusOr<LogPosition> read =
      IngestLogReader(directory_ + "/log")
          .ReadFrom(manifest->log_position, [&](const LogRecord& record, LogPosition next) {
            if (record.type == LogRecord::Type::kDelete) {
              for (const std::string& id : record.deleted_ids) touch(id).reset();
            } else {
              for (const StoredDocument& document : record.documents) {
                touch(document.id) = document;
                tail.chunks += static_cast<int64_t>(document.chunks.size());
              }
            }
            tail.end = next;
            return tail.chunks >= options_.max_chunks_per_shard ? enough : absl::OkStatus();
          });
  if (!read.ok() && read.status() != enough) return read.status();
  if (tail.end == manifest->log_position) return IndexerStepResult{};
  for (std::optional<StoredDocument>& document : latest) {
    if (document.has_value()) tail.documents.push_back(*std::move(document));
  }
  return PublishShard(*std::move(manifest), tail.documents, tail.touched_ids, tail.end, {});
}

absl::StatusOr<IndexerStepResult> CollectionIndexer::AddDocuments(
    const std::vector<StoredDocument>& documents) {
  absl::StatusOr<Manifest> manifest = ReadManifest(directory_);
  if (!manifest.ok()) return manifest.status();
  std::vector<std::string> ids;
  ids.reserve(documents.size());
  for (const StoredDocument& document : documents) ids.push_back(document.id);
  const LogPosition position = manifest->log_position;
  return PublishShard(*std::move(manifest), documents, ids, position, {});
}

absl::StatusOr<IndexerStepResult> CollectionIndexer::MergeShards() {
  absl::StatusOr<Manifest> manifest = ReadManifest(directory_);
  if (!manifest.ok()) return manifest.status();
  // Size tiers: shards sorted by chunk count; a tier is a run whose largest is within
  // merge_size_ratio of its smallest. Merge the first tier with enough members.
  std::vector<const ManifestShard*> by_size;
  for (const ManifestShard& shard : manifest->shards) by_size.push_back(&shard);
  std::sort(by_size.begin(), by_size.end(),
            [](const ManifestShard* a, const ManifestShard* b) { return a->chunks < b->chunks; });
  std::vector<std::string> group;
  for (size_t first = 0; first < by_size.size() && group.empty(); ++first) {
    size_t last = first;
    const double limit = std::max<double>(1, by_size[first]->chunks) * options_.merge_size_ratio;
    while (last + 1 < by_size.size() && by_size[last + 1]->chunks <= limit) ++last;
    if (static_cast<int>(last - first + 1) >= options_.merge_min_shards) {
      for (size_t i = first; i <= last; ++i) group.push_back(by_size[i]->id);
    }
  }
  if (group.empty()) return IndexerStepResult{};

  // Live documents of the group, oldest shard first, with their vectors.
  std::vector<StoredDocument> documents;
  for (const ManifestShard& entry : manifest->shards) {
    if (std::find(group.begin(), group.end(), entry.id) == group.end()) continue;
    absl::StatusOr<std::shared_ptr<const Shard>> shard = LoadShard(entry.id);
    if (!shard.ok()) return shard.status();
    absl::flat_hash_set<std::string> dead;
    if (auto it = manifest->tombstones.find(entry.id); it != manifest->tombstones.end()) {
      dead.insert(it->second.begin(), it->second.end());
    }
    for (int32_t index = 0; index < (*shard)->document_count(); ++index) {
      const DocumentView view = (*shard)->document(index);
      if (dead.contains(view.id)) continue;
      absl::StatusOr<std::vector<float>> vectors =
          (*shard)->dense().Reconstruct(view.first_label, view.chunk_count);
      if (!vectors.ok()) return vectors.status();
      StoredDocument document{std::string(view.id),
                              std::string(view.title),
                              std::string(view.text),
                              *view.metadata,
                              {}};
      const size_t dimension = static_cast<size_t>(config_.dimension);
      for (int64_t i = 0; i < view.chunk_count; ++i) {
        const ChunkView chunk = (*shard)->chunk(view.first_label + i);
        document.chunks.push_back(StoredChunk{
            chunk.start, chunk.end,
            std::vector<float>(vectors->begin() + static_cast<ptrdiff_t>(i * dimension),
                               vectors->begin() + static_cast<ptrdiff_t>((i + 1) * dimension))});
      }
      documents.push_back(std::move(document));
    }
  }
  const LogPosition position = manifest->log_position;
  return PublishShard(*std::move(manifest), documents, {}, position, group);
}

absl::StatusOr<GarbageCollected> CollectionIndexer::CollectGarbage() {
  const std::string shards_directory = directory_ + "/shards";
  // This object holds the collection's lock and builds nothing right now, so every temporary
  // build directory or manifest file is a crashed one.
  if (absl::Status status = ShardBuilder::RemoveTemporaryDirectories(shards_directory);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = RemoveAbandonedManifestFiles(directory_); !status.ok()) {
    return status;
  }
  absl::StatusOr<Manifest> manifest = ReadManifest(directory_);
  if (!manifest.ok()) return manifest.status();
  const std::optional<absl::Time> published = ModificationTime(ManifestPath(directory_));
  GarbageCollected collected;
  if (!published.has_value() || absl::Now() - *published < options_.garbage_grace) {
    return collected;
  }
  // Every shard the current manifest does not name was retired before it was published.
  absl::flat_hash_set<std::string> live;
  for (const ManifestShard& shard : manifest->shards) live.insert(shard.id);
  absl::StatusOr<std::vector<std::string>> shard_ids = ListShardIds(shards_directory);
  if (!shard_ids.ok()) return shard_ids.status();
  for (const std::string& id : *shard_ids) {
    if (live.contains(id)) continue;
    if (absl::Status status = RemoveAll(absl::StrCat(shards_directory, "/", id)); !status.ok()) {
      return status;
    }
    shards_.erase(id);
    ++collected.shards;
  }
  options_.at_step("garbage-collecting");
  const std::string log_directory = directory_ + "/log";
  absl::StatusOr<std::vector<std::string>> segments = ListDirectory(log_directory);
  if (!segments.ok()) return collected;
  for (const std::string& name : *segments) {
    std::optional<uint64_t> number = SegmentNumber(name);
    if (number.has_value() && *number < manifest->log_position.segment) {
      const std::string path = absl::StrCat(log_directory, "/", name);
      if (unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", path, errno);
      ++collected.log_segments;
    }
  }
  if (absl::Status status = SyncDirectory(log_directory); !status.ok()) return status;
  return collected;
}

absl::StatusOr<uint64_t> LogBytesBehind(const std::string& collection_directory) {
  absl::StatusOr<Manifest> manifest = ReadManifest(collection_directory);
  if (!manifest.ok()) return manifest.status();
  const std::string log_directory = collection_directory + "/log";
  absl::StatusOr<std::vector<std::string>> segments = ListDirectory(log_directory);
  if (!segments.ok()) return segments.status();
  uint64_t behind = 0;
  for (const std::string& name : *segments) {
    std::optional<uint64_t> number = SegmentNumber(name);
    if (!number.has_value() || *number < manifest->log_position.segment) continue;
    struct stat info;
    if (stat(absl::StrCat(log_directory, "/", name).c_str(), &info) != 0) continue;
    uint64_t size = static_cast<uint64_t>(info.st_size);
    if (*number == manifest->log_position.segment) {
      size -= std::min(size, std::max<uint64_t>(manifest->log_position.offset, 16));
    } else {
      size -= std::min<uint64_t>(size, 16);  // the segment header
    }
    behind += size;
  }
  return behind;
}

}  // namespace quarry
