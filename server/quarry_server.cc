#include "server/quarry_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
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

  server->collection_service_ = std::make_unique<CollectionServiceImpl>(server->catalog_.get());
  server->document_service_ =
      std::make_unique<DocumentServiceImpl>(server->catalog_.get(), options.max_batch_documents);
  server->search_service_ = std::make_unique<SearchServiceImpl>(server->catalog_.get());
  server->generation_service_ =
      std::make_unique<GenerationServiceImpl>(server->catalog_.get(), options.generation);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, grpc::InsecureServerCredentials(), &server->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  // The sync server runs each call on a polling thread and starts another poller when fewer
  // than MIN_POLLERS are left, ending pollers above MAX_POLLERS once idle. gRPC's defaults
  // (1 and 2) create and end a thread for nearly every call once two calls overlap; keeping
  // a few more pollers alive removes that churn (measured: bench/run_dense.sh, server CPU per
  // query).
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 16);
  builder.RegisterService(server->collection_service_.get());
  builder.RegisterService(server->document_service_.get());
  builder.RegisterService(server->search_service_.get());
  builder.RegisterService(server->generation_service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address));
  }
  server->refresher_ = std::thread(
      [raw = server.get(), interval = options.refresh_interval] { raw->RefreshLoop(interval); });
  return server;
}

QuarryServer::~QuarryServer() {
  if (!stopping_.HasBeenNotified()) Shutdown(absl::Now());
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
