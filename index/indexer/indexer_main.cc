// quarry-indexer: the sidecar that builds immutable shards offline.
//
//   quarry-indexer watch --data_dir DIR     follow every collection's ingest log: build shards
//                                           from the tail, merge small shards, publish new
//                                           manifest generations, collect garbage
//   quarry-indexer build --data_dir DIR --collection C INPUT...
//                                           bulk-build shards straight from files (JSONL, BEIR
//                                           folders, .txt/.md trees), using every core
//
// Every flag has a QUARRY_* environment equivalent (index/environment_flags.h).
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "index/catalog.h"
#include "index/collection_config.h"
#include "index/document_preparation.h"
#include "index/embedder_flags.h"
#include "index/environment_flags.h"
#include "index/indexer/collection_indexer.h"
#include "index/readers/document_reader.h"
#include "index/shutdown_signal.h"
#include "index/store/filesystem.h"
#include "server/metrics/indexer_metrics.h"
#include "server/metrics/metrics_endpoint.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, data_dir, "./quarry-data", "Data directory shared with the servers");
ABSL_FLAG(std::string, collection, "", "build: the collection to add documents to");
ABSL_FLAG(int, threads, 2, "Threads for embedding, training and index construction");
ABSL_FLAG(int, interval_ms, 1000, "watch: pause between passes over the collections");
ABSL_FLAG(bool, once, false, "watch: make one pass and exit (for scripts and tests)");
ABSL_FLAG(int, garbage_grace_seconds, 120,
          "Retired shards and covered log segments are deleted after this long");
ABSL_FLAG(int64_t, max_chunks_per_shard, 1'000'000, "Largest shard a build writes");
ABSL_FLAG(int, merge_min_shards, 4, "Merge a size tier once it has this many shards");
ABSL_FLAG(std::string, crash_at, "",
          "Test only: die by SIGKILL on reaching this step (shard-writing, shard-built, "
          "manifest-published, garbage-collecting), for crash-recovery tests");
ABSL_FLAG(std::string, log_level, "info", "Log level: trace, debug, info, warn, error");
ABSL_FLAG(std::string, metrics_address, "0.0.0.0:9465",
          "watch: Prometheus /metrics listen address host:port (port 0 picks a free one; empty: "
          "no metrics)");

namespace quarry {
namespace {

constexpr char kUsage[] =
    "usage:\n"
    "  quarry-indexer watch --data_dir DIR [--once] [--interval_ms N]\n"
    "  quarry-indexer build --data_dir DIR --collection NAME INPUT...\n";

IndexerOptions OptionsFromFlags() {
  IndexerOptions options;
  options.threads = std::max(1, absl::GetFlag(FLAGS_threads));
  options.garbage_grace = absl::Seconds(absl::GetFlag(FLAGS_garbage_grace_seconds));
  options.max_chunks_per_shard = absl::GetFlag(FLAGS_max_chunks_per_shard);
  options.merge_min_shards = absl::GetFlag(FLAGS_merge_min_shards);
  if (const std::string step = absl::GetFlag(FLAGS_crash_at); !step.empty()) {
    options.at_step = [step](absl::string_view reached) {
      if (reached == step) std::raise(SIGKILL);
    };
  }
  return options;
}

std::string CollectionDirectory(const std::string& name) {
  return absl::StrCat(absl::GetFlag(FLAGS_data_dir), "/collections/", name);
}

absl::StatusOr<CollectionConfig> LoadConfig(const std::string& name) {
  if (absl::Status status = ValidateCollectionName(name); !status.ok()) return status;
  absl::StatusOr<std::string> json = ReadFile(CollectionDirectory(name) + "/config.json");
  if (absl::IsNotFound(json.status())) {
    return absl::NotFoundError(absl::StrCat("collection '", name, "' not found in ",
                                            absl::GetFlag(FLAGS_data_dir),
                                            " (create it with `quarry collections create`)"));
  }
  if (!json.ok()) return json.status();
  return CollectionConfigFromJson(*json);
}

void LogStep(const std::string& what, const std::string& collection,
             const IndexerStepResult& result) {
  if (!result.published) return;
  spdlog::info(
      "msg=\"{}\" collection={} generation={} documents={} chunks={} seconds={:.3f} "
      "chunks_per_second={:.0f}",
      what, collection, result.generation, result.documents, result.chunks, result.seconds,
      result.seconds > 0 ? result.chunks / result.seconds : 0.0);
}

// One pass over one collection: index the log tail, merge, collect garbage. `metrics` may be
// null.
absl::Status IndexCollection(const std::string& name, CollectionIndexer& indexer,
                             metrics::IndexerMetrics* metrics) {
  const std::string directory = CollectionDirectory(name);
  absl::StatusOr<uint64_t> behind = LogBytesBehind(directory);
  absl::StatusOr<IndexerStepResult> indexed = indexer.IndexLog();
  if (!indexed.ok()) return indexed.status();
  if (indexed->published && behind.ok()) {
    spdlog::info("msg=\"log indexed\" collection={} log_bytes_behind_before={}", name, *behind);
  }
  LogStep("shard built from log", name, *indexed);
  absl::StatusOr<IndexerStepResult> merged = indexer.MergeShards();
  if (!merged.ok()) return merged.status();
  LogStep("shards merged", name, *merged);
  absl::StatusOr<GarbageCollected> collected = indexer.CollectGarbage();
  if (!collected.ok()) return collected.status();
  if (collected->shards > 0 || collected->log_segments > 0) {
    spdlog::info("msg=\"garbage collected\" collection={} shards={} log_segments={}", name,
                 collected->shards, collected->log_segments);
  }
  if (metrics != nullptr) {
    metrics->RecordStep(name, "log", *indexed);
    metrics->RecordStep(name, "merge", *merged);
    metrics->RecordGarbage(name, *collected);
    if (absl::StatusOr<uint64_t> after = LogBytesBehind(directory); after.ok()) {
      metrics->RecordLag(name, *after);
    }
  }
  return absl::OkStatus();
}

int Watch(const absl::Notification& stop, metrics::IndexerMetrics* metrics) {
  std::map<std::string, std::unique_ptr<CollectionIndexer>> indexers;
  std::map<std::string, std::string> reported;  // last error logged per collection
  const IndexerOptions options = OptionsFromFlags();
  while (true) {
    absl::StatusOr<std::vector<std::string>> names =
        ListDirectory(absl::GetFlag(FLAGS_data_dir) + "/collections");
    std::map<std::string, std::unique_ptr<CollectionIndexer>> still_present;
    for (const std::string& name : names.ok() ? *names : std::vector<std::string>{}) {
      if (absl::StartsWith(name, ".") || !ValidateCollectionName(name).ok()) continue;
      std::unique_ptr<CollectionIndexer>& indexer = indexers[name];
      absl::Status status;
      if (indexer == nullptr) {
        absl::StatusOr<CollectionConfig> config = LoadConfig(name);
        absl::StatusOr<std::unique_ptr<CollectionIndexer>> acquired =
            config.ok() ? CollectionIndexer::Acquire(CollectionDirectory(name), *config, options)
                        : absl::StatusOr<std::unique_ptr<CollectionIndexer>>(config.status());
        if (acquired.ok()) {
          indexer = *std::move(acquired);
        } else {
          status = acquired.status();
        }
      }
      if (indexer != nullptr) status = IndexCollection(name, *indexer, metrics);
      if (!status.ok() && metrics != nullptr) metrics->RecordError(name);
      if (!status.ok() && reported[name] != status.ToString()) {
        spdlog::warn("msg=\"collection skipped\" collection={} error=\"{}\"", name,
                     status.ToString());
        reported[name] = status.ToString();
      } else if (status.ok()) {
        reported.erase(name);
      }
      if (indexer != nullptr) still_present[name] = std::move(indexer);
    }
    indexers = std::move(still_present);  // releases the locks of deleted collections
    if (absl::GetFlag(FLAGS_once)) return 0;
    if (stop.WaitForNotificationWithTimeout(absl::Milliseconds(absl::GetFlag(FLAGS_interval_ms)))) {
      return 0;
    }
  }
}

// Reads, validates, chunks and embeds `inputs` on `threads` threads; each full shard's worth is
// published as it fills.
int Build(const std::vector<std::string>& inputs) {
  const std::string name = absl::GetFlag(FLAGS_collection);
  absl::StatusOr<CollectionConfig> config = LoadConfig(name);
  if (!config.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<std::shared_ptr<const Embedder>> embedder = MakeEmbedderFactory(EmbeddingsEndpointFromFlags())(*config);
  if (!embedder.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(embedder.status().message()).c_str());
    return 1;
  }
  const IndexerOptions options = OptionsFromFlags();
  absl::StatusOr<std::unique_ptr<CollectionIndexer>> indexer =
      CollectionIndexer::Acquire(CollectionDirectory(name), *config, options);
  if (!indexer.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(indexer.status().message()).c_str());
    return 1;
  }
  const absl::Time start = absl::Now();
  const bool terminal = isatty(STDERR_FILENO);
  std::vector<StoredDocument> pending;
  int64_t pending_chunks = 0;
  int64_t documents = 0;
  int64_t chunks = 0;
  int64_t skipped = 0;
  int shards = 0;
  auto flush = [&]() -> bool {
    if (pending.empty()) return true;
    absl::StatusOr<IndexerStepResult> result = (*indexer)->AddDocuments(pending);
    if (!result.ok()) {
      std::fprintf(stderr, "\nerror: %s\n", result.status().ToString().c_str());
      return false;
    }
    ++shards;
    LogStep("shard built from files", name, *result);
    pending.clear();
    pending_chunks = 0;
    return true;
  };
  constexpr size_t kBatchDocuments = 256;
  const size_t threads = static_cast<size_t>(options.threads);
  for (const std::string& input : inputs) {
    absl::StatusOr<std::unique_ptr<DocumentReader>> reader = DocumentReader::Open(input);
    if (!reader.ok()) {
      std::fprintf(stderr, "error: %s\n", reader.status().ToString().c_str());
      return 1;
    }
    bool done = false;
    while (!done) {
      // Read one batch per thread, prepare them in parallel, keep input order.
      std::vector<std::vector<Document>> batches(threads);
      for (std::vector<Document>& batch : batches) {
        while (!done && batch.size() < kBatchDocuments) {
          Document document;
          absl::StatusOr<bool> more = (*reader)->Next(&document);
          if (!more.ok()) {
            std::fprintf(stderr, "\nwarning: skipped: %s\n", more.status().ToString().c_str());
            ++skipped;
            continue;
          }
          if (!*more) {
            done = true;
            break;
          }
          batch.push_back(std::move(document));
        }
      }
      std::vector<absl::StatusOr<std::vector<StoredDocument>>> prepared(
          threads, absl::InternalError("not prepared"));
      std::vector<std::thread> workers;
      for (size_t i = 0; i < threads; ++i) {
        workers.emplace_back([&, i] {
          if (batches[i].empty()) {
            prepared[i] = std::vector<StoredDocument>{};
            return;
          }
          if (absl::Status status =
                  ValidateDocuments(batches[i], *config, CollectionLimits{}, *embedder != nullptr);
              !status.ok()) {
            prepared[i] = status;
            return;
          }
          prepared[i] = PrepareDocuments(std::move(batches[i]), *config, embedder->get());
        });
      }
      for (std::thread& worker : workers) worker.join();
      for (absl::StatusOr<std::vector<StoredDocument>>& batch : prepared) {
        if (!batch.ok()) {
          std::fprintf(stderr, "\nerror: %s: %s\n", input.c_str(),
                       batch.status().ToString().c_str());
          return 1;
        }
        for (StoredDocument& document : *batch) {
          pending_chunks += static_cast<int64_t>(document.chunks.size());
          chunks += static_cast<int64_t>(document.chunks.size());
          ++documents;
          pending.push_back(std::move(document));
        }
      }
      if (pending_chunks >= options.max_chunks_per_shard && !flush()) return 1;
      if (terminal) {
        const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
        std::fprintf(stderr, "\r%s: %lld documents, %lld chunks, %.0f chunks/s, %.0f%% of input",
                     input.c_str(), static_cast<long long>(documents),
                     static_cast<long long>(chunks), seconds > 0 ? chunks / seconds : 0.0,
                     (*reader)->total_bytes() > 0
                         ? 100.0 * (*reader)->bytes_read() / (*reader)->total_bytes()
                         : 100.0);
      }
    }
  }
  if (!flush()) return 1;
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::fprintf(
      stderr,
      "%sbuilt %lld documents (%lld chunks) into %d shard(s) of collection '%s' in "
      "%.1f s (%.0f chunks/s)%s\n",
      terminal ? "\n" : "", static_cast<long long>(documents), static_cast<long long>(chunks),
      shards, name.c_str(), seconds, seconds > 0 ? chunks / seconds : 0.0,
      skipped > 0 ? absl::StrCat("; ", skipped, " unreadable records skipped").c_str() : "");
  return 0;
}

}  // namespace
}  // namespace quarry

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(quarry::kUsage);
  std::vector<char*> positional = quarry::ParseFlagsWithEnvironment(argc, argv);
  auto logger = spdlog::stderr_logger_mt("quarry-indexer");
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%e%z level=%l %v");
  logger->set_level(spdlog::level::from_str(absl::GetFlag(FLAGS_log_level)));
  spdlog::set_default_logger(logger);

  if (positional.size() < 2) {
    std::fputs(quarry::kUsage, stderr);
    return 2;
  }
  const std::string command = positional[1];
  if (command == "build") {
    std::vector<std::string> inputs(positional.begin() + 2, positional.end());
    if (inputs.empty() || absl::GetFlag(FLAGS_collection).empty()) {
      std::fputs(quarry::kUsage, stderr);
      return 2;
    }
    return quarry::Build(inputs);
  }
  if (command != "watch") {
    std::fputs(quarry::kUsage, stderr);
    return 2;
  }
  // Metrics are served while watching (a bulk build reports on stderr instead).
  std::unique_ptr<quarry::metrics::MetricsEndpoint> metrics_endpoint;
  std::unique_ptr<quarry::metrics::IndexerMetrics> metrics;
  if (const std::string address = absl::GetFlag(FLAGS_metrics_address); !address.empty()) {
    absl::StatusOr<std::unique_ptr<quarry::metrics::MetricsEndpoint>> endpoint =
        quarry::metrics::MetricsEndpoint::Start(address);
    if (!endpoint.ok()) {
      spdlog::critical("msg=\"start failed\" error=\"{}\"", endpoint.status().ToString());
      return 1;
    }
    metrics_endpoint = *std::move(endpoint);
    metrics = std::make_unique<quarry::metrics::IndexerMetrics>(metrics_endpoint->registry());
    const std::string host = address.substr(0, address.rfind(':'));
    spdlog::info("msg=\"serving metrics\" address={}:{}", host, metrics_endpoint->port());
    std::printf("quarry-indexer metrics on %s:%d\n", host.c_str(), metrics_endpoint->port());
    std::fflush(stdout);
  }
  // SIGTERM/SIGINT end the watch loop between passes.
  quarry::ShutdownSignal shutdown_signal;
  absl::Notification stop;
  std::thread signal_waiter([&] {
    const int signal_number = shutdown_signal.Wait();
    spdlog::info("msg=\"stopping\" signal={}", signal_number);
    stop.Notify();
  });
  spdlog::info("msg=\"watching\" data_dir={}", absl::GetFlag(FLAGS_data_dir));
  const int exit_code = quarry::Watch(stop, metrics.get());
  shutdown_signal.Trigger();  // let the waiter finish when the loop ended on its own (--once)
  signal_waiter.join();
  return exit_code;
}
