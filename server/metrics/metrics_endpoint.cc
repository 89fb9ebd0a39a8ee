#include "server/metrics/metrics_endpoint.h"

#include <exception>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/metrics/process_metrics.h"

namespace quarry::metrics {
namespace {

// civetweb's workers, which answer the scrapes, run on a small stack fixed when libcivetweb was
// compiled; collectors that walk directories or parse /proc can need more (an ASan build
// overflowed it in the collection state collector). Each collection runs on a thread of its own
// with the default stack; a scrape every few seconds makes the thread's cost negligible.
class CollectedOnOwnStack final : public prometheus::Collectable {
 public:
  explicit CollectedOnOwnStack(std::shared_ptr<prometheus::Collectable> inner)
      : inner_(std::move(inner)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> families;
    std::thread collector([&] { families = inner_->Collect(); });
    collector.join();
    return families;
  }

 private:
  std::shared_ptr<prometheus::Collectable> inner_;
};

}  // namespace

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
  endpoint->Add(endpoint->registry_);
  endpoint->Add(std::make_shared<ProcessMetrics>());
  return endpoint;
}

void MetricsEndpoint::Add(std::shared_ptr<prometheus::Collectable> collectable) {
  auto wrapped = std::make_shared<CollectedOnOwnStack>(std::move(collectable));
  exposer_->RegisterCollectable(wrapped);
  collectables_.push_back(std::move(wrapped));
}

}  // namespace quarry::metrics
