// The catalog: every collection of a data directory.
//
// Layout: <data>/collections/<name>/{config.json, log/}. A collection is created by writing
// its config into a scratch directory and renaming that into place (so it exists whole or not
// at all), and deleted by renaming it aside before removing it (so a crash never leaves half a
// collection visible). Scratch and deleted directories start with '.', which valid collection
// names cannot, and are cleaned up on open.
//
// A collection whose files fail their checks (e.g. a corrupt log) is not served: Get returns
// the error that was found, naming the file, while the other collections keep working.
#ifndef QUARRY_INDEX_CATALOG_H_
#define QUARRY_INDEX_CATALOG_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "index/collection.h"
#include "index/collection_config.h"
#include "index/embed/embedder.h"
#include "index/embed/openai_embedder.h"
#include "index/store/ingest_log.h"
#include "index/upstream_call_observer.h"

namespace quarry {

// Makes the embedder a collection needs; null for collections without one (kNone).
// Returns FAILED_PRECONDITION when the kind is not available on this server.
using EmbedderFactory =
    std::function<absl::StatusOr<std::shared_ptr<const Embedder>>(const CollectionConfig& config)>;

// The factory for the built-in embedder, kNone and, when `openai.base_url` is set, OpenAI-
// compatible embedders (one HTTP client, so one breaker and connection pool, shared by every
// collection). Without an endpoint, embedder=openai is FAILED_PRECONDITION. `observer` (null:
// none; must outlive the embedders) is told about each request to the endpoint.
EmbedderFactory MakeEmbedderFactory(const OpenAiEmbeddingsEndpoint& openai = {},
                                    UpstreamCallObserver* observer = nullptr);

struct CatalogOptions {
  std::string data_directory;
  CollectionLimits limits;
  IngestLogOptions log;
  EmbedderFactory embedder_factory = MakeEmbedderFactory();
  // Lent to every collection (null members: searches run on the caller's thread alone, shards
  // stay on ordinary pages).
  CollectionResources resources;
};

class Catalog {
 public:
  // Creates the data directory if needed and opens every collection in it.
  static absl::StatusOr<std::unique_ptr<Catalog>> Open(CatalogOptions options);

  // INVALID_ARGUMENT for a bad config, ALREADY_EXISTS if the name is taken.
  absl::StatusOr<std::shared_ptr<Collection>> Create(CollectionConfig config);
  // NOT_FOUND, or the error that keeps the collection from being served.
  absl::StatusOr<std::shared_ptr<Collection>> Get(const std::string& name) const;
  // Served collections, sorted by name.
  std::vector<std::shared_ptr<Collection>> List() const;
  absl::Status Delete(const std::string& name);

  // Picks up collections created or deleted by other processes and the log records they
  // appended.
  absl::Status Refresh();

 private:
  explicit Catalog(CatalogOptions options) : options_(std::move(options)) {}
  std::string CollectionsDirectory() const;
  // Removes directories left by deletes and by creates whose process died.
  void RemoveLeftovers() const;
  absl::StatusOr<std::shared_ptr<Collection>> OpenCollection(const std::string& name) const;

  const CatalogOptions options_;
  // Serialises create/delete/refresh so the directory and the map change together.
  absl::Mutex change_mutex_ ABSL_ACQUIRED_BEFORE(mutex_);
  mutable absl::Mutex mutex_;
  std::map<std::string, std::shared_ptr<Collection>> collections_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, absl::Status> broken_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace quarry

#endif  // QUARRY_INDEX_CATALOG_H_
