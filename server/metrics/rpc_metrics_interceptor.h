// Counts and times every gRPC call a server handles, by service, method and status code, as a
// server interceptor: services need no code of their own for it.
//
//   quarry_rpc_requests_total{service, method, code}    calls finished, by gRPC status code
//   quarry_rpc_duration_seconds{service, method}         from the call's start to its status
//                                                        (whole stream for streaming calls)
//
// Only methods in the protobuf descriptor pool (and gRPC's own health/reflection services) get
// their name as label; anything else a client sends is "unknown", so callers cannot grow the
// label set without bound.
#ifndef QUARRY_SERVER_METRICS_RPC_METRICS_INTERCEPTOR_H_
#define QUARRY_SERVER_METRICS_RPC_METRICS_INTERCEPTOR_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace quarry::metrics {

class RpcMetricsInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(prometheus::Registry& registry);

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
};

}  // namespace quarry::metrics

#endif  // QUARRY_SERVER_METRICS_RPC_METRICS_INTERCEPTOR_H_
