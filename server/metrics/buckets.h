// Histogram bucket boundaries (seconds) for the ranges Quarry measures: search stages take tens
// of microseconds to tens of milliseconds; whole RPCs up to seconds (ingest with fsync, LLM
// streams); LLM calls seconds to minutes; shard builds up to an hour.
#ifndef QUARRY_SERVER_METRICS_BUCKETS_H_
#define QUARRY_SERVER_METRICS_BUCKETS_H_

#include "prometheus/histogram.h"

namespace quarry::metrics {

inline prometheus::Histogram::BucketBoundaries SearchStageBuckets() {
  return {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
          0.005,   0.01,     0.025,   0.05,   0.1,     0.25,   0.5,   1};
}

inline prometheus::Histogram::BucketBoundaries RpcBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
}

inline prometheus::Histogram::BucketBoundaries UpstreamBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
}

inline prometheus::Histogram::BucketBoundaries BuildBuckets() {
  return {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
}

}  // namespace quarry::metrics

#endif  // QUARRY_SERVER_METRICS_BUCKETS_H_
