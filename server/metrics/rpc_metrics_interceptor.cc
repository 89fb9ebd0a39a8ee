#include "server/metrics/rpc_metrics_interceptor.h"

#include <google/protobuf/descriptor.h>

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "server/metrics/buckets.h"

namespace quarry::metrics {
namespace {

using grpc::experimental::InterceptionHookPoints;

struct MethodName {
  std::string service = "unknown";
  std::string method = "unknown";
};

// "/quarry.v1.SearchService/Search" -> {"quarry.v1.SearchService", "Search"}.
MethodName ParseMethod(const char* path) {
  const std::string full = path == nullptr ? "" : path;
  const size_t slash = full.rfind('/');
  if (full.size() < 2 || full[0] != '/' || slash == 0 || slash == std::string::npos) return {};
  std::string service = full.substr(1, slash - 1);
  std::string method = full.substr(slash + 1);
  const bool known =
      absl::StartsWith(service, "grpc.health.") || absl::StartsWith(service, "grpc.reflection.") ||
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
          service + "." + method) != nullptr;
  if (!known) return {};
  return {std::move(service), std::move(method)};
}

class RpcMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(prometheus::Family<prometheus::Counter>& requests,
                        prometheus::Histogram& duration, MethodName name)
      : requests_(requests), duration_(duration), name_(std::move(name)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      const std::string code(
          absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())));
      requests_.Add({{"service", name_.service}, {"method", name_.method}, {"code", code}})
          .Increment();
      duration_.Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
    methods->Proceed();
  }

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Histogram& duration_;
  const MethodName name_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

RpcMetricsInterceptorFactory::RpcMetricsInterceptorFactory(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("quarry_rpc_requests_total")
                    .Help("gRPC calls handled, by service, method and status code")
                    .Register(registry)),
      duration_(prometheus::BuildHistogram()
                    .Name("quarry_rpc_duration_seconds")
                    .Help("gRPC call latency from start to status (whole stream if streaming)")
                    .Register(registry)) {}

grpc::experimental::Interceptor* RpcMetricsInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  MethodName name = ParseMethod(info->method());
  prometheus::Histogram& duration =
      duration_.Add({{"service", name.service}, {"method", name.method}}, RpcBuckets());
  return new RpcMetricsInterceptor(requests_, duration, std::move(name));
}

}  // namespace quarry::metrics
