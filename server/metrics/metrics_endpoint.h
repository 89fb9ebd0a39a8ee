// The Prometheus pull endpoint of a Quarry process: an HTTP listener (prometheus-cpp's Exposer,
// on its own port, apart from gRPC) serving GET /metrics from one registry, plus the process
// metrics every Quarry binary reports. quarry-server and quarry-indexer each own one.
#ifndef QUARRY_SERVER_METRICS_METRICS_ENDPOINT_H_
#define QUARRY_SERVER_METRICS_METRICS_ENDPOINT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"

namespace quarry::metrics {

class MetricsEndpoint {
 public:
  // Listens on `address` ("host:port"; port 0 picks a free one). UNAVAILABLE, naming the
  // address, when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(const std::string& address);

  // Where metrics are registered; the endpoint serves it for its whole lifetime.
  prometheus::Registry& registry() { return *registry_; }
  // Serves `collectable` too (metrics computed at scrape time); kept alive by the endpoint.
  void Add(std::shared_ptr<prometheus::Collectable> collectable);
  // The port actually bound.
  int port() const { return port_; }

 private:
  MetricsEndpoint() = default;

  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace quarry::metrics

#endif  // QUARRY_SERVER_METRICS_METRICS_ENDPOINT_H_
