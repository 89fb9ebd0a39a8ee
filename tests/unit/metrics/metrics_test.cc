// The metric values themselves: the endpoint serves what is registered over real HTTP, the
// process collector reads /proc sensibly, and the upstream and indexer recorders count what
// they are told.
#include <httplib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <memory>
#include <string>

#include "prometheus/counter.h"
#include "server/metrics/indexer_metrics.h"
#include "server/metrics/metrics_endpoint.h"
#include "server/metrics/process_metrics.h"
#include "server/metrics/upstream_metrics.h"
#include "tests/unit/metric_value.h"

namespace quarry::metrics {
namespace {

using quarry::testing::MetricValue;

// One endpoint for the whole test (prometheus-cpp's exposer is slow to stop once it served).
TEST_CASE("The endpoint serves registered series and process metrics over HTTP") {
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
      MetricsEndpoint::Start("127.0.0.1:0");
  REQUIRE(endpoint.ok());
  REQUIRE((*endpoint)->port() > 0);
  prometheus::BuildCounter()
      .Name("quarry_test_events_total")
      .Help("test")
      .Register((*endpoint)->registry())
      .Add({{"kind", "a"}})
      .Increment(2);

  httplib::Client client("127.0.0.1", (*endpoint)->port());
  httplib::Result result = client.Get("/metrics");
  REQUIRE(result);
  CHECK(result->status == 200);
  CHECK(result->body.find("quarry_test_events_total{kind=\"a\"} 2") != std::string::npos);
  CHECK(result->body.find("# TYPE process_resident_memory_bytes gauge") != std::string::npos);
  CHECK(result->body.find("# TYPE process_cpu_seconds_total counter") != std::string::npos);

  // The port is taken now: a second endpoint on it is refused with a clear error.
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> clash =
      MetricsEndpoint::Start("127.0.0.1:" + std::to_string((*endpoint)->port()));
  CHECK(clash.status().code() == absl::StatusCode::kUnavailable);
  CHECK(clash.status().message().find("cannot serve metrics on 127.0.0.1:") != std::string::npos);
}

TEST_CASE("Process metrics read /proc/self") {
  const ProcessMetrics process;
  const double resident = MetricValue(process, "process_resident_memory_bytes");
  CHECK(resident > 1 << 20);
  CHECK(MetricValue(process, "process_virtual_memory_bytes") >= resident);
  CHECK(MetricValue(process, "process_resident_memory_max_bytes") >= resident / 2);
  CHECK(MetricValue(process, "process_threads") >= 1);
  CHECK(MetricValue(process, "process_open_fds") >= 3);  // stdin, stdout, stderr at least
  const double started = MetricValue(process, "process_start_time_seconds");
  const double now = static_cast<double>(std::time(nullptr));
  CHECK(started <= now + 1);
  CHECK(started > now - 86400 * 365);
  // A descriptor opened now is counted.
  const double descriptors = MetricValue(process, "process_open_fds");
  const int extra = dup(0);
  REQUIRE(extra >= 0);
  CHECK(MetricValue(process, "process_open_fds") == descriptors + 1);
  close(extra);
}

TEST_CASE("Upstream calls are counted by outcome, with latency and tokens") {
  prometheus::Registry registry;
  UpstreamMetrics llm(registry, "quarry_llm", "LLM", /*streams=*/true);
  UpstreamMetrics embedder(registry, "quarry_embedder", "embedder", /*streams=*/false);
  llm.RecordCall(absl::OkStatus(), absl::Milliseconds(300));
  llm.RecordCall(absl::UnavailableError("down"), absl::Seconds(2));
  llm.RecordFirstToken(absl::Milliseconds(80));
  llm.RecordTokens(100, 20);
  // index/ code sees the embedder's metrics only through UpstreamCallObserver.
  UpstreamCallObserver& observer = embedder;
  observer.OnCall(absl::OkStatus(), absl::Milliseconds(15), 42, 0);
  observer.OnCall(absl::DeadlineExceededError("slow"), absl::Seconds(30), 0, 0);

  CHECK(MetricValue(registry, "quarry_llm_requests_total", {{"outcome", "OK"}}) == 1);
  CHECK(MetricValue(registry, "quarry_llm_requests_total", {{"outcome", "UNAVAILABLE"}}) == 1);
  CHECK(MetricValue(registry, "quarry_llm_request_duration_seconds") == 2);
  CHECK(MetricValue(registry, "quarry_llm_time_to_first_token_seconds") == 1);
  CHECK(MetricValue(registry, "quarry_llm_tokens_total", {{"direction", "input"}}) == 100);
  CHECK(MetricValue(registry, "quarry_llm_tokens_total", {{"direction", "output"}}) == 20);
  CHECK(MetricValue(registry, "quarry_embedder_requests_total", {{"outcome", "OK"}}) == 1);
  CHECK(MetricValue(registry, "quarry_embedder_requests_total",
                    {{"outcome", "DEADLINE_EXCEEDED"}}) == 1);
  CHECK(MetricValue(registry, "quarry_embedder_tokens_total", {{"direction", "input"}}) == 42);
  CHECK(MetricValue(registry, "quarry_embedder_time_to_first_token_seconds") == 0);

  // The latency lands in the right bucket: 300 ms is above 0.25 s and within 0.5 s.
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != "quarry_llm_request_duration_seconds") continue;
    for (const prometheus::ClientMetric::Bucket& bucket : family.metric[0].histogram.bucket) {
      if (bucket.upper_bound == 0.25) CHECK(bucket.cumulative_count == 0);
      if (bucket.upper_bound == 0.5) CHECK(bucket.cumulative_count == 1);
      if (bucket.upper_bound == 2.5) CHECK(bucket.cumulative_count == 2);
    }
  }
}

TEST_CASE("Indexer steps, lag and garbage collection become series per collection") {
  prometheus::Registry registry;
  IndexerMetrics metrics(registry);
  IndexerStepResult built{.published = true, .generation = 3, .documents = 10, .chunks = 400,
                          .seconds = 2.0};
  metrics.RecordStep("docs", "log", built);
  metrics.RecordStep("docs", "merge", {.published = true, .generation = 4, .chunks = 900,
                                       .seconds = 3.0});
  metrics.RecordStep("docs", "log", IndexerStepResult{});  // published nothing: not counted
  metrics.RecordLag("docs", 1234);
  metrics.RecordGarbage("docs", {.shards = 2, .log_segments = 1});
  metrics.RecordError("other");

  CHECK(MetricValue(registry, "quarry_indexer_shards_built_total", {{"source", "log"}}) == 1);
  CHECK(MetricValue(registry, "quarry_indexer_shards_built_total", {{"source", "merge"}}) == 1);
  CHECK(MetricValue(registry, "quarry_indexer_merges_total", {{"collection", "docs"}}) == 1);
  CHECK(MetricValue(registry, "quarry_indexer_chunks_indexed_total", {{"source", "log"}}) == 400);
  CHECK(MetricValue(registry, "quarry_indexer_vectors_per_second", {{"collection", "docs"}}) ==
        200);
  CHECK(MetricValue(registry, "quarry_indexer_build_duration_seconds") == 2);
  CHECK(MetricValue(registry, "quarry_indexer_manifest_generation", {{"collection", "docs"}}) ==
        4);
  CHECK(MetricValue(registry, "quarry_indexer_log_bytes_behind", {{"collection", "docs"}}) ==
        1234);
  CHECK(MetricValue(registry, "quarry_indexer_garbage_collected_total", {{"kind", "shard"}}) == 2);
  CHECK(MetricValue(registry, "quarry_indexer_garbage_collected_total",
                    {{"kind", "log_segment"}}) == 1);
  CHECK(MetricValue(registry, "quarry_indexer_errors_total", {{"collection", "other"}}) == 1);
}

}  // namespace
}  // namespace quarry::metrics
