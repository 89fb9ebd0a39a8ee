// A collection's manifest: which immutable shards are live (generation N), which of their
// documents have been replaced or deleted since (tombstones), and how far into the ingest log
// the shards reach. The sidecar indexer publishes a new generation atomically (write a
// temporary file, fsync, rename over MANIFEST, fsync the directory); servers poll it and swap
// the new generation in. A shard the manifest no longer names was retired no later than the
// manifest file's modification time, so the indexer deletes it once that is older than a grace
// period (no server can still be loading it).
#ifndef QUARRY_INDEX_SHARD_MANIFEST_H_
#define QUARRY_INDEX_SHARD_MANIFEST_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/store/ingest_log.h"

namespace quarry {

struct ManifestShard {
  std::string id;
  int64_t documents = 0;
  int64_t chunks = 0;
};

struct Manifest {
  // 0: nothing published yet (no shards; the whole log is the fresh tail).
  uint64_t generation = 0;
  // Oldest first: where a document is in several shards, the newest shard's copy is live.
  std::vector<ManifestShard> shards;
  // Shard id -> ids of its documents replaced or deleted by later shards or log records.
  std::map<std::string, std::vector<std::string>> tombstones;
  // Every log record before this position is reflected in the shards and tombstones.
  LogPosition log_position;
};

// The manifest file of a collection directory.
std::string ManifestPath(const std::string& collection_directory);

// The current manifest; an empty generation-0 manifest when none was ever published.
// DATA_LOSS (naming the file) when it fails its checksum or does not parse.
absl::StatusOr<Manifest> ReadManifest(const std::string& collection_directory);

// Atomically replaces the manifest. The caller (the indexer) holds the collection's indexer
// lock and sets the generation to one more than the manifest it read.
absl::Status PublishManifest(const std::string& collection_directory, const Manifest& manifest);

// Removes the temporary files of manifest publishes that crashed mid-write. Only for the
// publisher (the indexer holding the collection's lock): it would also remove one in progress.
absl::Status RemoveAbandonedManifestFiles(const std::string& collection_directory);

std::string EncodeManifest(const Manifest& manifest);
absl::StatusOr<Manifest> DecodeManifest(absl::string_view text);

}  // namespace quarry

#endif  // QUARRY_INDEX_SHARD_MANIFEST_H_
