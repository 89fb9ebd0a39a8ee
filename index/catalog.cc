#include "index/catalog.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "index/embed/hashing_embedder.h"
#include "index/store/filesystem.h"

namespace quarry {
namespace {

constexpr char kConfigFileName[] = "config.json";

std::string ScratchName(absl::string_view prefix, absl::string_view name) {
  return absl::StrCat(".", prefix, "-", name, "-", getpid(), "-", absl::ToUnixNanos(absl::Now()));
}

}  // namespace

EmbedderFactory MakeEmbedderFactory(const OpenAiEmbeddingsEndpoint& openai,
                                    UpstreamCallObserver* observer) {
  std::shared_ptr<remote::HttpClient> client;
  if (!openai.base_url.empty()) client = std::make_shared<remote::HttpClient>(openai.http);
  return [client, openai, observer](
             const CollectionConfig& config) -> absl::StatusOr<std::shared_ptr<const Embedder>> {
    switch (config.embedder) {
      case EmbedderKind::kBuiltin: {
        absl::StatusOr<std::unique_ptr<HashingEmbedder>> embedder =
            HashingEmbedder::Create({.dimension = config.dimension});
        if (!embedder.ok()) return embedder.status();
        return std::shared_ptr<const Embedder>(*std::move(embedder));
      }
      case EmbedderKind::kNone:
        return std::shared_ptr<const Embedder>();
      case EmbedderKind::kOpenAi: {
        if (client == nullptr) break;
        absl::StatusOr<std::unique_ptr<OpenAiEmbedder>> embedder = OpenAiEmbedder::Create(
            client, openai, config.embedder_model.empty() ? openai.model : config.embedder_model,
            config.dimension, observer);
        if (!embedder.ok()) return embedder.status();
        return std::shared_ptr<const Embedder>(*std::move(embedder));
      }
    }
    return absl::FailedPreconditionError(
        "embedder 'openai' needs an embeddings endpoint; none is configured here (set "
        "--embedder_base_url or QUARRY_EMBEDDER_BASE_URL)");
  };
}

absl::StatusOr<std::unique_ptr<Catalog>> Catalog::Open(CatalogOptions options) {
  std::unique_ptr<Catalog> catalog(new Catalog(std::move(options)));
  if (absl::Status status = CreateDirectories(catalog->CollectionsDirectory()); !status.ok()) {
    return status;
  }
  catalog->RemoveLeftovers();
  if (absl::Status status = catalog->Refresh(); !status.ok()) return status;
  return catalog;
}

void Catalog::RemoveLeftovers() const {
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(CollectionsDirectory());
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    const bool deleted = absl::StartsWith(name, ".deleted-");
    bool abandoned = false;
    if (absl::StartsWith(name, ".creating-")) {
      // ".creating-<name>-<pid>-<nanos>": abandoned once its creator is gone.
      std::vector<absl::string_view> parts = absl::StrSplit(name, '-');
      int pid = 0;
      abandoned = parts.size() >= 4 && absl::SimpleAtoi(parts[parts.size() - 2], &pid) &&
                  kill(pid, 0) != 0 && errno == ESRCH;
    }
    if (deleted || abandoned) {
      RemoveAll(absl::StrCat(CollectionsDirectory(), "/", name)).IgnoreError();
    }
  }
}

std::string Catalog::CollectionsDirectory() const {
  return options_.data_directory + "/collections";
}

absl::StatusOr<std::shared_ptr<Collection>> Catalog::OpenCollection(const std::string& name) const {
  const std::string directory = absl::StrCat(CollectionsDirectory(), "/", name);
  absl::StatusOr<std::string> json = ReadFile(absl::StrCat(directory, "/", kConfigFileName));
  if (!json.ok()) return json.status();
  absl::StatusOr<CollectionConfig> config = CollectionConfigFromJson(*json);
  if (!config.ok()) {
    return absl::DataLossError(
        absl::StrCat(directory, "/", kConfigFileName, ": ", config.status().message()));
  }
  if (config->name != name) {
    return absl::DataLossError(absl::StrCat(directory, "/", kConfigFileName, " names '",
                                            config->name, "', not '", name, "'"));
  }
  absl::StatusOr<std::shared_ptr<const Embedder>> embedder = options_.embedder_factory(*config);
  if (!embedder.ok()) return embedder.status();
  absl::StatusOr<std::unique_ptr<Collection>> collection =
      Collection::Open(directory, *std::move(config), *std::move(embedder), options_.limits,
                       options_.log, options_.resources);
  if (!collection.ok()) return collection.status();
  return std::shared_ptr<Collection>(*std::move(collection));
}

absl::Status Catalog::Refresh() {
  absl::MutexLock change_lock(&change_mutex_);
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(CollectionsDirectory());
  if (!names.ok()) return names.status();
  std::map<std::string, std::shared_ptr<Collection>> current;
  {
    absl::ReaderMutexLock lock(&mutex_);
    current = collections_;
  }
  std::map<std::string, std::shared_ptr<Collection>> next;
  std::map<std::string, absl::Status> broken;
  for (const std::string& name : *names) {
    if (absl::StartsWith(name, ".")) continue;  // scratch or deleted: not a collection
    if (!ValidateCollectionName(name).ok()) continue;
    auto it = current.find(name);
    if (it != current.end()) {
      // Already open: keep serving it and pick up records other processes appended.
      if (absl::Status status = it->second->CatchUp(); !status.ok()) {
        broken[name] = status;
        continue;
      }
      next[name] = it->second;
      continue;
    }
    absl::StatusOr<std::shared_ptr<Collection>> collection = OpenCollection(name);
    if (collection.ok()) {
      next[name] = *std::move(collection);
    } else {
      broken[name] = collection.status();
    }
  }
  absl::MutexLock lock(&mutex_);
  collections_ = std::move(next);
  broken_ = std::move(broken);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Collection>> Catalog::Create(CollectionConfig config) {
  if (absl::Status status = ResolveCollectionConfig(config); !status.ok()) return status;
  if (config.create_time_unix == 0) config.create_time_unix = absl::ToUnixSeconds(absl::Now());
  absl::StatusOr<std::shared_ptr<const Embedder>> embedder = options_.embedder_factory(config);
  if (!embedder.ok()) return embedder.status();

  absl::MutexLock change_lock(&change_mutex_);
  const std::string final_directory = absl::StrCat(CollectionsDirectory(), "/", config.name);
  if (access(final_directory.c_str(), F_OK) == 0) {
    return absl::AlreadyExistsError(absl::StrCat("collection '", config.name, "' already exists"));
  }
  const std::string scratch =
      absl::StrCat(CollectionsDirectory(), "/", ScratchName("creating", config.name));
  if (absl::Status status = CreateDirectories(scratch); !status.ok()) return status;
  if (absl::Status status = WriteFileAtomically(absl::StrCat(scratch, "/", kConfigFileName),
                                                CollectionConfigToJson(config));
      !status.ok()) {
    RemoveAll(scratch).IgnoreError();
    return status;
  }
  if (absl::Status status = RenameNoReplace(scratch, final_directory); !status.ok()) {
    RemoveAll(scratch).IgnoreError();
    if (absl::IsAlreadyExists(status)) {
      return absl::AlreadyExistsError(
          absl::StrCat("collection '", config.name, "' already exists"));
    }
    return status;
  }
  absl::StatusOr<std::unique_ptr<Collection>> collection =
      Collection::Open(final_directory, config, *std::move(embedder), options_.limits, options_.log,
                       options_.resources);
  if (!collection.ok()) return collection.status();
  std::shared_ptr<Collection> shared = *std::move(collection);
  absl::MutexLock lock(&mutex_);
  collections_[config.name] = shared;
  broken_.erase(config.name);
  return shared;
}

absl::StatusOr<std::shared_ptr<Collection>> Catalog::Get(const std::string& name) const {
  if (absl::Status status = ValidateCollectionName(name); !status.ok()) return status;
  absl::ReaderMutexLock lock(&mutex_);
  if (auto it = collections_.find(name); it != collections_.end()) return it->second;
  if (auto it = broken_.find(name); it != broken_.end()) return it->second;
  return absl::NotFoundError(absl::StrCat("collection '", name, "' not found"));
}

std::vector<std::shared_ptr<Collection>> Catalog::List() const {
  absl::ReaderMutexLock lock(&mutex_);
  std::vector<std::shared_ptr<Collection>> collections;
  for (const auto& [name, collection] : collections_) collections.push_back(collection);
  return collections;
}

absl::Status Catalog::Delete(const std::string& name) {
  if (absl::Status status = ValidateCollectionName(name); !status.ok()) return status;
  absl::MutexLock change_lock(&change_mutex_);
  const std::string directory = absl::StrCat(CollectionsDirectory(), "/", name);
  if (access(directory.c_str(), F_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("collection '", name, "' not found"));
  }
  const std::string aside = absl::StrCat(CollectionsDirectory(), "/", ScratchName("deleted", name));
  if (absl::Status status = RenameNoReplace(directory, aside); !status.ok()) return status;
  {
    absl::MutexLock lock(&mutex_);
    collections_.erase(name);
    broken_.erase(name);
  }
  return RemoveAll(aside);
}

}  // namespace quarry
