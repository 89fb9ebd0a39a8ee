// The quarry-server process minus main(): opens the catalog of a data directory, serves the
// quarry.v1 services plus gRPC health and reflection, and keeps the catalog in step with
// other processes sharing the directory.
#ifndef QUARRY_SERVER_QUARRY_SERVER_H_
#define QUARRY_SERVER_QUARRY_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "index/catalog.h"
#include "server/collection_service.h"
#include "server/document_service.h"
#include "server/generation_service.h"
#include "server/health_service.h"
#include "server/metrics/metrics_endpoint.h"
#include "server/metrics/server_metrics.h"
#include "server/search_dispatcher.h"
#include "server/search_service.h"
#include "server/security/call_gate.h"
#include "server/security/guarded_services.h"
#include "server/security/security_options.h"

namespace quarry::server {

// Beyond this, polling for the next search would cost more CPU than a thread's wake-up saves.
inline constexpr absl::Duration kMaxSearchPollBeforeSleep = absl::Milliseconds(10);

struct ServerOptions {
  std::string address = "0.0.0.0:50051";
  std::string data_directory = "./quarry-data";
  int max_message_bytes = 64 << 20;
  int max_batch_documents = 1000;
  CollectionLimits limits;
  IngestLogOptions log;
  // How often the catalog picks up other processes' writes and collections.
  absl::Duration refresh_interval = absl::Milliseconds(200);
  // Threads answering Search (search_dispatcher.h); 0: one per core.
  int search_threads = 0;
  // Searches that may wait on a reranker or embedder at once, on threads of their own.
  int remote_search_workers = 16;
  // How long a free search thread polls for the next call before it sleeps
  // (search_dispatcher.h); 0 .. kMaxSearchPollBeforeSleep.
  absl::Duration search_poll_before_sleep = absl::Microseconds(100);
  GenerationServiceOptions generation;
  // For collections with embedder=openai (base_url empty: none).
  OpenAiEmbeddingsEndpoint embeddings;
  // The reranker Search uses when a request asks for one (url empty: none).
  SearchRerankingOptions reranking;
  security::SecurityOptions security;
  // Prometheus /metrics listen address host:port (port 0 picks a free one); empty: no metrics.
  std::string metrics_address;
};

class QuarryServer {
 public:
  static absl::StatusOr<std::unique_ptr<QuarryServer>> Start(const ServerOptions& options);
  ~QuarryServer();

  // The port actually bound (useful with port 0).
  int port() const { return port_; }
  // The metrics port actually bound; 0 when metrics are disabled.
  int metrics_port() const { return metrics_ == nullptr ? 0 : metrics_->port(); }

  // Stops accepting calls, lets in-flight calls finish until `deadline`, then cancels them.
  void Shutdown(absl::Time deadline);
  // Blocks until Shutdown has completed.
  void Wait();

 private:
  QuarryServer() = default;
  void RefreshLoop(absl::Duration interval);
  void RegisterGuardedServices(grpc::ServerBuilder& builder, const ServerOptions& options);

  // Before the catalog: its collections' embedders report to it.
  std::unique_ptr<metrics::ServerMetrics> server_metrics_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<CollectionServiceImpl> collection_service_;
  std::unique_ptr<DocumentServiceImpl> document_service_;
  std::unique_ptr<SearchReranking> reranking_;
  std::unique_ptr<SearchServiceImpl> search_service_;
  std::unique_ptr<GenerationServiceImpl> generation_service_;
  // What is registered: the services above behind the security gate.
  std::unique_ptr<security::CallGate> gate_;
  std::unique_ptr<security::GuardedCollectionService> guarded_collections_;
  std::unique_ptr<security::GuardedDocumentService> guarded_documents_;
  std::unique_ptr<security::GuardedSearchService> guarded_search_;
  std::unique_ptr<security::GuardedGenerationService> guarded_generation_;
  std::unique_ptr<HealthService> health_;
  // Serves guarded_search_; declared before server_, which must go first.
  std::unique_ptr<SearchDispatcher> search_dispatcher_;
  // Declared after what it scrapes (catalog, breaker), so it stops serving before they go.
  std::unique_ptr<metrics::MetricsEndpoint> metrics_;  // null: metrics disabled
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  absl::Notification stopping_;
  std::thread refresher_;
};

}  // namespace quarry::server

#endif  // QUARRY_SERVER_QUARRY_SERVER_H_
