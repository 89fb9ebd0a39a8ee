#include "server/metrics/metrics_endpoint.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "server/metrics/process_metrics.h"

namespace quarry::metrics {

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& address) {
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint());
  try {
    // One worker thread: Prometheus scrapes one request at a time per target.
    endpoint->exposer_ = std::make_unique<prometheus::Exposer>(address, 1);
  } catch (const std::exception& error) {  // CivetServer throws when it cannot listen
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", error.what()));
  }
  const std::vector<int> ports = endpoint->exposer_->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", address));
  }
  endpoint->port_ = ports.front();
  endpoint->exposer_->RegisterCollectable(endpoint->registry_);
  endpoint->Add(std::make_shared<ProcessMetrics>());
  return endpoint;
}

void MetricsEndpoint::Add(std::shared_ptr<prometheus::Collectable> collectable) {
  exposer_->RegisterCollectable(collectable);
  collectables_.push_back(std::move(collectable));
}

}  // namespace quarry::metrics
