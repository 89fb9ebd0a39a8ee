// absl::Status inside, grpc::Status at the edge: the one place that maps between them.
#ifndef QUARRY_SERVER_STATUS_CONVERT_H_
#define QUARRY_SERVER_STATUS_CONVERT_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace quarry::server {

// Same code (the two enums agree numerically), same message.
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace quarry::server

#endif  // QUARRY_SERVER_STATUS_CONVERT_H_
