// Metrics of one upstream HTTP service Quarry calls: the LLM (Generate) or an
// OpenAI-compatible embedder. With prefix "quarry_llm":
//
//   quarry_llm_requests_total{outcome}            calls, by final status code name ("OK",
//                                                 "UNAVAILABLE", "DEADLINE_EXCEEDED"...)
//   quarry_llm_request_duration_seconds           whole call, retries included
//   quarry_llm_time_to_first_token_seconds        streaming calls only
//   quarry_llm_tokens_total{direction}            "input" (prompt) and "output" (completion)
//                                                 tokens, as the upstream reported them
//
// The embedder's client records through the same class with prefix "quarry_embedder" (no
// first-token histogram): ServerMetrics::embedder(), handed to index/ code as an
// UpstreamCallObserver.
#ifndef QUARRY_SERVER_METRICS_UPSTREAM_METRICS_H_
#define QUARRY_SERVER_METRICS_UPSTREAM_METRICS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "index/upstream_call_observer.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace quarry::metrics {

class UpstreamMetrics : public UpstreamCallObserver {
 public:
  // `what` names the upstream in help texts ("LLM", "embedder").
  UpstreamMetrics(prometheus::Registry& registry, const std::string& prefix,
                  const std::string& what, bool streams);

  void RecordCall(const absl::Status& outcome, absl::Duration latency);
  void RecordFirstToken(absl::Duration latency);
  void RecordTokens(int64_t input, int64_t output);

  // RecordCall + RecordTokens, for callers in index/.
  void OnCall(const absl::Status& outcome, absl::Duration latency, int64_t input_tokens,
              int64_t output_tokens) override;

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Histogram& duration_;
  prometheus::Histogram* first_token_ = nullptr;  // null unless `streams`
  prometheus::Family<prometheus::Counter>& tokens_;
  prometheus::Counter& input_tokens_;
  prometheus::Counter& output_tokens_;
};

}  // namespace quarry::metrics

#endif  // QUARRY_SERVER_METRICS_UPSTREAM_METRICS_H_
