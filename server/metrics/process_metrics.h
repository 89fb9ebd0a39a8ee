// Process metrics under the names every Prometheus client library uses (process_*), so stock
// dashboards and alerts work: memory, CPU time, open file descriptors, threads, start time;
// and quarry_anon_huge_pages_bytes, how much of the memory is on transparent huge pages.
// prometheus-cpp has no process collector; this one reads /proc/self at scrape time.
#ifndef QUARRY_SERVER_METRICS_PROCESS_METRICS_H_
#define QUARRY_SERVER_METRICS_PROCESS_METRICS_H_

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace quarry::metrics {

class ProcessMetrics : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace quarry::metrics

#endif  // QUARRY_SERVER_METRICS_PROCESS_METRICS_H_
