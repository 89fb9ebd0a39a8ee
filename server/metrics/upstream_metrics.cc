#include "server/metrics/upstream_metrics.h"

#include "absl/strings/str_cat.h"
#include "server/metrics/buckets.h"

namespace quarry::metrics {
UpstreamMetrics::UpstreamMetrics(prometheus::Registry& registry, const std::string& prefix,
                                 const std::string& what, bool streams)
    : requests_(prometheus::BuildCounter()
                    .Name(prefix + "_requests_total")
                    .Help(absl::StrCat("Calls to the ", what, ", by outcome (status code)"))
                    .Register(registry)),
      duration_(prometheus::BuildHistogram()
                    .Name(prefix + "_request_duration_seconds")
                    .Help(absl::StrCat("Latency of calls to the ", what, ", retries included"))
                    .Register(registry)
                    .Add({}, UpstreamBuckets())),
      tokens_(prometheus::BuildCounter()
                  .Name(prefix + "_tokens_total")
                  .Help(absl::StrCat("Tokens sent to (input) and received from (output) the ",
                                     what, ", as it reported them"))
                  .Register(registry)),
      input_tokens_(tokens_.Add({{"direction", "input"}})),
      output_tokens_(tokens_.Add({{"direction", "output"}})) {
  if (streams) {
    first_token_ = &prometheus::BuildHistogram()
                        .Name(prefix + "_time_to_first_token_seconds")
                        .Help(absl::StrCat("Time from a streaming call to the ", what,
                                           " until its first token"))
                        .Register(registry)
                        .Add({}, UpstreamBuckets());
  }
}

void UpstreamMetrics::RecordCall(const absl::Status& outcome, absl::Duration latency) {
  requests_.Add({{"outcome", std::string(absl::StatusCodeToString(outcome.code()))}})
      .Increment();
  duration_.Observe(absl::ToDoubleSeconds(latency));
}

void UpstreamMetrics::OnCall(const absl::Status& outcome, absl::Duration latency,
                             int64_t input_tokens, int64_t output_tokens) {
  RecordCall(outcome, latency);
  RecordTokens(input_tokens, output_tokens);
}

void UpstreamMetrics::RecordFirstToken(absl::Duration latency) {
  if (first_token_ != nullptr) first_token_->Observe(absl::ToDoubleSeconds(latency));
}

void UpstreamMetrics::RecordTokens(int64_t input, int64_t output) {
  input_tokens_.Increment(static_cast<double>(input));
  output_tokens_.Increment(static_cast<double>(output));
}

}  // namespace quarry::metrics
