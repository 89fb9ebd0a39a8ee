// grpc.health.v1.Health (https://github.com/grpc/grpc/blob/master/doc/health-checking.md) for
// the server overall ("") and each quarry.v1 service by its full name: SERVING until Shutdown,
// NOT_SERVING after; any other name is NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch).
//
// Why not gRPC's default health service: in gRPC 1.51 it is a callback service, and a server
// with any callback service starts gRPC's callback threads, which then also poll the sockets
// and hand each Search they read over to a SearchDispatcher thread (search_dispatcher.h):
// measured 2,350-2,490 instead of 2,700-2,860 searches/s (bench/run_dense.sh, 2 clients).
#ifndef QUARRY_SERVER_HEALTH_SERVICE_H_
#define QUARRY_SERVER_HEALTH_SERVICE_H_

#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace quarry::server {

class HealthService final : public grpc::health::v1::Health::Service {
 public:
  // `services`: the full names reported besides "" (e.g. "quarry.v1.SearchService").
  // `watch_cancel_poll`: how often an open Watch checks whether its caller hung up (the sync
  // API has no cancellation callback).
  explicit HealthService(std::vector<std::string> services,
                         absl::Duration watch_cancel_poll = absl::Seconds(1));

  grpc::Status Check(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  // Sends the current status, then NOT_SERVING when Shutdown is called and ends the stream;
  // ends with CANCELLED if the caller hangs up first. Each open Watch keeps one of the sync
  // server's threads (asleep, waking once per `watch_cancel_poll`).
  grpc::Status Watch(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;

  // Everything NOT_SERVING from now on; open Watch streams get it and end.
  void Shutdown() {
    if (!shut_down_.HasBeenNotified()) shut_down_.Notify();
  }

 private:
  grpc::health::v1::HealthCheckResponse::ServingStatus StatusOf(const std::string& service) const;

  const std::vector<std::string> services_;
  const absl::Duration watch_cancel_poll_;
  absl::Notification shut_down_;
};

}  // namespace quarry::server

#endif  // QUARRY_SERVER_HEALTH_SERVICE_H_
