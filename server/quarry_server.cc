#include "server/quarry_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "server/security/server_credentials.h"
#include "server/metrics/rpc_metrics_interceptor.h"
#include "server/metrics/server_state_collector.h"
#include "spdlog/spdlog.h"

namespace quarry::server {

absl::StatusOr<std::unique_ptr<QuarryServer>> QuarryServer::Start(const ServerOptions& options) {
  std::unique_ptr<QuarryServer> server(new QuarryServer());
  CatalogOptions catalog_options;
  catalog_options.data_directory = options.data_directory;
  catalog_options.limits = options.limits;
  catalog_options.log = options.log;
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

  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  if (!options.metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<metrics::MetricsEndpoint>> endpoint =
        metrics::MetricsEndpoint::Start(options.metrics_address);
    if (!endpoint.ok()) return endpoint.status();
    server->metrics_ = *std::move(endpoint);
    server->server_metrics_ = std::make_unique<metrics::ServerMetrics>(server->metrics_->registry());
    interceptors.push_back(
        std::make_unique<metrics::RpcMetricsInterceptorFactory>(server->metrics_->registry()));
  }
  server->collection_service_ = std::make_unique<CollectionServiceImpl>(server->catalog_.get());
  server->document_service_ = std::make_unique<DocumentServiceImpl>(
      server->catalog_.get(), options.max_batch_documents, server->server_metrics_.get(),
      [gate = server->gate_.get()](const grpc::ServerContext& context, const std::string& name) {
        return gate->Authorize(context, security::Access::kWrite, name);
      });
  server->search_service_ =
      std::make_unique<SearchServiceImpl>(server->catalog_.get(), server->server_metrics_.get());
  server->generation_service_ = std::make_unique<GenerationServiceImpl>(
      server->catalog_.get(), options.generation, server->server_metrics_.get());
  if (server->metrics_ != nullptr) {
    server->metrics_->Add(std::make_shared<metrics::ServerStateCollector>(
        server->catalog_.get(), server->generation_service_->llm_breaker()));
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, *credentials, &server->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  server->RegisterGuardedServices(builder);
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address));
  }
  server->refresher_ = std::thread(
      [raw = server.get(), interval = options.refresh_interval] { raw->RefreshLoop(interval); });
  return server;
}

void QuarryServer::RegisterGuardedServices(grpc::ServerBuilder& builder) {
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
  builder.RegisterService(guarded_search_.get());
  builder.RegisterService(guarded_generation_.get());
}

QuarryServer::~QuarryServer() {
  // A server whose Start failed has nothing to shut down.
  if (server_ != nullptr && !stopping_.HasBeenNotified()) Shutdown(absl::Now());
  if (refresher_.joinable()) refresher_.join();
}

void QuarryServer::RefreshLoop(absl::Duration interval) {
  while (!stopping_.WaitForNotificationWithTimeout(interval)) {
    if (absl::Status status = catalog_->Refresh(); !status.ok()) {
      spdlog::warn("msg=\"catalog refresh failed\" error=\"{}\"", status.ToString());
    }
  }
}

void QuarryServer::Shutdown(absl::Time deadline) {
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->Shutdown();
  }
  server_->Shutdown(absl::ToChronoTime(deadline));
}

void QuarryServer::Wait() {
  server_->Wait();
  if (refresher_.joinable()) refresher_.join();
}

}  // namespace quarry::server
