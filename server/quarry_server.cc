#include "server/quarry_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/metrics/rpc_metrics_interceptor.h"
#include "server/metrics/server_state_collector.h"
#include "server/security/server_credentials.h"
#include "spdlog/spdlog.h"

namespace quarry::server {
namespace {

// Logs each collection's refused shards (failed checksum, missing or truncated files) when they
// change: those shards stay out of service, the rest of the collection is served.
void LogRefusedShards(const Catalog& catalog, std::map<std::string, std::string>& logged) {
  for (const std::shared_ptr<Collection>& collection : catalog.List()) {
    const std::vector<absl::Status> errors = collection->ShardErrors();
    const std::string text = absl::StrJoin(
        errors, "; ",
        [](std::string* out, const absl::Status& s) { absl::StrAppend(out, s.ToString()); });
    std::string& previous = logged[collection->config().name];
    if (text == previous) continue;
    previous = text;
    for (const absl::Status& error : errors) {
      spdlog::error("msg=\"shard refused, serving the rest\" collection={} error=\"{}\"",
                    collection->config().name, error.ToString());
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<QuarryServer>> QuarryServer::Start(const ServerOptions& options) {
  if (options.search_threads < 0 || options.remote_search_workers < 1) {
    return absl::InvalidArgumentError(
        "--search_threads must be >= 0 (0: one per core) and --remote_search_workers >= 1");
  }
  if (options.search_poll_before_sleep < absl::ZeroDuration() ||
      options.search_poll_before_sleep > kMaxSearchPollBeforeSleep) {
    return absl::InvalidArgumentError(
        absl::StrCat("--search_poll_microseconds must be in 0..",
                     absl::ToInt64Microseconds(kMaxSearchPollBeforeSleep), ", got ",
                     absl::ToInt64Microseconds(options.search_poll_before_sleep)));
  }
  std::unique_ptr<QuarryServer> server(new QuarryServer());
  // Metrics first: the OpenAI embedder of each collection the catalog opens reports its calls
  // to them.
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  if (!options.metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<metrics::MetricsEndpoint>> endpoint =
        metrics::MetricsEndpoint::Start(options.metrics_address);
    if (!endpoint.ok()) return endpoint.status();
    server->metrics_ = *std::move(endpoint);
    server->server_metrics_ =
        std::make_unique<metrics::ServerMetrics>(server->metrics_->registry());
    interceptors.push_back(
        std::make_unique<metrics::RpcMetricsInterceptorFactory>(server->metrics_->registry()));
  }
  CatalogOptions catalog_options;
  catalog_options.data_directory = options.data_directory;
  catalog_options.limits = options.limits;
  catalog_options.log = options.log;
  // One per core: a hybrid search borrows one while its caller runs the other leg.
  catalog_options.resources.search_helpers =
      std::make_shared<HelperThreads>(static_cast<int>(std::thread::hardware_concurrency()));
  catalog_options.resources.huge_pages = std::make_shared<HugePageCollapser>();
  catalog_options.embedder_factory = MakeEmbedderFactory(
      options.embeddings,
      server->server_metrics_ != nullptr ? &server->server_metrics_->embedder() : nullptr);
  absl::StatusOr<std::unique_ptr<Catalog>> catalog = Catalog::Open(std::move(catalog_options));
  if (!catalog.ok()) return catalog.status();
  server->catalog_ = *std::move(catalog);
  for (const std::shared_ptr<Collection>& collection : server->catalog_->List()) {
    const CollectionStatistics statistics = collection->Statistics();
    spdlog::info("msg=\"collection opened\" collection={} documents={} chunks={}",
                 collection->config().name, statistics.documents, statistics.chunks);
  }

  absl::StatusOr<std::unique_ptr<security::CallGate>> gate =
      security::CallGate::Create(options.security);
  if (!gate.ok()) return gate.status();
  server->gate_ = *std::move(gate);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      security::MakeServerCredentials(options.security.tls);
  if (!credentials.ok()) return credentials.status();
  const security::SecurityOptions& secured = options.security;
  spdlog::info(
      "msg=\"security\" tls={} mutual_tls={} api_keys={} rate_limit_qps={} "
      "max_generate_streams={} max_deadline={}",
      !secured.tls.certificate_file.empty(), !secured.tls.client_ca_file.empty(),
      server->gate_->api_keys_enabled(), secured.rate_limit_qps, secured.max_generate_streams,
      absl::FormatDuration(secured.max_deadline));

  server->collection_service_ = std::make_unique<CollectionServiceImpl>(server->catalog_.get());
  server->document_service_ = std::make_unique<DocumentServiceImpl>(
      server->catalog_.get(), options.max_batch_documents, server->server_metrics_.get(),
      [gate = server->gate_.get()](const grpc::ServerContext& context, const std::string& name) {
        return gate->Authorize(context, security::Access::kWrite, name);
      });
  server->reranking_ =
      std::make_unique<SearchReranking>(options.reranking, server->server_metrics_.get());
  server->search_service_ = std::make_unique<SearchServiceImpl>(
      server->catalog_.get(), server->reranking_.get(), server->server_metrics_.get());
  server->generation_service_ =
      std::make_unique<GenerationServiceImpl>(server->catalog_.get(), server->reranking_.get(),
                                              options.generation, server->server_metrics_.get());
  if (server->metrics_ != nullptr) {
    server->metrics_->Add(std::make_shared<metrics::ServerStateCollector>(
        server->catalog_.get(), server->generation_service_->llm_breaker()));
  }

  grpc::EnableDefaultHealthCheckService(false);  // health_service.h says why
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, *credentials, &server->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  // Every call but Search (search_dispatcher.h) runs on the sync server: each call on a
  // polling thread, which starts another poller when fewer than MIN_POLLERS are left and ends
  // pollers above MAX_POLLERS once idle. gRPC's defaults (1 and 2) create and end a thread for
  // nearly every call once two calls overlap; a few more pollers kept alive avoid that churn.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 16);
  server->RegisterGuardedServices(builder, options);
  // Outside the gate, like reflection: probes need no key.
  server->health_ = std::make_unique<HealthService>(std::vector<std::string>{
      v1::CollectionService::service_full_name(), v1::DocumentService::service_full_name(),
      v1::SearchService::service_full_name(), v1::GenerationService::service_full_name()});
  builder.RegisterService(server->health_.get());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address));
  }
  server->search_dispatcher_->Start();
  server->refresher_ = std::thread(
      [raw = server.get(), interval = options.refresh_interval] { raw->RefreshLoop(interval); });
  return server;
}

void QuarryServer::RegisterGuardedServices(grpc::ServerBuilder& builder,
                                           const ServerOptions& options) {
  security::CallGate* gate = gate_.get();
  guarded_collections_ =
      std::make_unique<security::GuardedCollectionService>(gate, collection_service_.get());
  guarded_documents_ =
      std::make_unique<security::GuardedDocumentService>(gate, document_service_.get());
  guarded_search_ = std::make_unique<security::GuardedSearchService>(gate, search_service_.get());
  guarded_generation_ =
      std::make_unique<security::GuardedGenerationService>(gate, generation_service_.get());
  builder.RegisterService(guarded_collections_.get());
  builder.RegisterService(guarded_documents_.get());
  SearchDispatcherOptions dispatch;
  dispatch.queues = options.search_threads > 0
                        ? options.search_threads
                        : static_cast<int>(std::thread::hardware_concurrency());
  dispatch.remote_workers = options.remote_search_workers;
  dispatch.poll_before_sleep = options.search_poll_before_sleep;
  search_dispatcher_ = std::make_unique<SearchDispatcher>(
      guarded_search_.get(),
      [search = search_service_.get()](const v1::SearchRequest& request) {
        return search->WaitsOnRemote(request);
      },
      dispatch);
  search_dispatcher_->Register(builder);
  builder.RegisterService(guarded_generation_.get());
}

QuarryServer::~QuarryServer() {
  // A server whose Start failed has nothing to shut down.
  if (server_ != nullptr && !stopping_.HasBeenNotified()) Shutdown(absl::Now());
  if (refresher_.joinable()) refresher_.join();
}

void QuarryServer::RefreshLoop(absl::Duration interval) {
  std::map<std::string, std::string> refused_shards;  // collection -> errors last logged
  LogRefusedShards(*catalog_, refused_shards);
  while (!stopping_.WaitForNotificationWithTimeout(interval)) {
    if (absl::Status status = catalog_->Refresh(); !status.ok()) {
      spdlog::warn("msg=\"catalog refresh failed\" error=\"{}\"", status.ToString());
    }
    LogRefusedShards(*catalog_, refused_shards);
  }
}

void QuarryServer::Shutdown(absl::Time deadline) {
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  health_->Shutdown();
  server_->Shutdown(absl::ToChronoTime(deadline));
  search_dispatcher_->Stop();
}

void QuarryServer::Wait() {
  server_->Wait();
  if (refresher_.joinable()) refresher_.join();
}

}  // namespace quarry::server
