// Told about each call a core component makes to a remote service (the OpenAI-compatible
// embedder's /v1/embeddings), so that the server can export metrics about it while index/
// stays free of Prometheus: the server passes its metrics object (metrics::UpstreamMetrics)
// as this interface to the component's factory.
#ifndef QUARRY_INDEX_UPSTREAM_CALL_OBSERVER_H_
#define QUARRY_INDEX_UPSTREAM_CALL_OBSERVER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace quarry {

class UpstreamCallObserver {
 public:
  virtual ~UpstreamCallObserver() = default;

  // One call, retries included: its final outcome, how long it took, and the tokens sent and
  // received as the service reported them (0 when it did not). Must be thread-safe.
  virtual void OnCall(const absl::Status& outcome, absl::Duration latency, int64_t input_tokens,
                      int64_t output_tokens) = 0;
};

}  // namespace quarry

#endif  // QUARRY_INDEX_UPSTREAM_CALL_OBSERVER_H_
