// A gRPC call's deadline and cancellation as the remote::CallControl that bounds the upstream
// HTTP calls made for it (LLM, embeddings, reranker).
#ifndef QUARRY_SERVER_CALL_CONTROL_H_
#define QUARRY_SERVER_CALL_CONTROL_H_

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "absl/time/time.h"
#include "index/remote/http_client.h"

namespace quarry::server {

inline absl::Time DeadlineOf(const grpc::ServerContext& context) {
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

// `context` must outlive the control.
inline remote::CallControl CallControlFor(grpc::ServerContext* context) {
  remote::CallControl control;
  control.deadline = DeadlineOf(*context);
  control.cancelled = [context] { return context->IsCancelled(); };
  return control;
}

}  // namespace quarry::server

#endif  // QUARRY_SERVER_CALL_CONTROL_H_
