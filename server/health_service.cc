#include "server/health_service.h"

#include <algorithm>
#include <utility>

namespace quarry::server {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

HealthService::HealthService(std::vector<std::string> services, absl::Duration watch_cancel_poll)
    : services_(std::move(services)), watch_cancel_poll_(watch_cancel_poll) {}

HealthCheckResponse::ServingStatus HealthService::StatusOf(const std::string& service) const {
  if (!service.empty() && std::find(services_.begin(), services_.end(), service) == services_.end()) {
    return HealthCheckResponse::SERVICE_UNKNOWN;
  }
  return shut_down_.HasBeenNotified() ? HealthCheckResponse::NOT_SERVING
                                      : HealthCheckResponse::SERVING;
}

grpc::Status HealthService::Check(grpc::ServerContext* /*context*/,
                                  const HealthCheckRequest* request,
                                  HealthCheckResponse* response) {
  const HealthCheckResponse::ServingStatus status = StatusOf(request->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service: " + request->service());
  }
  response->set_status(status);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* context, const HealthCheckRequest* request,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  HealthCheckResponse response;
  response.set_status(StatusOf(request->service()));
  if (!writer->Write(response)) return grpc::Status::CANCELLED;
  while (!shut_down_.WaitForNotificationWithTimeout(watch_cancel_poll_)) {
    if (context->IsCancelled()) return grpc::Status::CANCELLED;
  }
  const HealthCheckResponse::ServingStatus last = StatusOf(request->service());
  if (last != response.status()) {
    response.set_status(last);
    writer->Write(response);
  }
  return grpc::Status::OK;
}

}  // namespace quarry::server
