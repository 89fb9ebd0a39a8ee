// Builds prometheus::MetricFamily values by hand, for collectors that compute their metrics at
// scrape time (from /proc, from the catalog) instead of keeping counters and gauges updated.
#ifndef QUARRY_SERVER_METRICS_SCRAPE_TIME_FAMILY_H_
#define QUARRY_SERVER_METRICS_SCRAPE_TIME_FAMILY_H_

#include <string>
#include <utility>
#include <vector>

#include "prometheus/metric_family.h"

namespace quarry::metrics {

class ScrapeTimeFamily {
 public:
  ScrapeTimeFamily(std::string name, std::string help, prometheus::MetricType type) {
    family_.name = std::move(name);
    family_.help = std::move(help);
    family_.type = type;
  }

  // One sample; `labels` as (name, value) pairs.
  ScrapeTimeFamily& Add(double value,
                        std::vector<std::pair<std::string, std::string>> labels = {}) {
    prometheus::ClientMetric& metric = family_.metric.emplace_back();
    for (auto& [name, label_value] : labels) {
      metric.label.push_back({std::move(name), std::move(label_value)});
    }
    if (family_.type == prometheus::MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    return *this;
  }

  // The family built; the builder is left empty.
  prometheus::MetricFamily Take() { return std::move(family_); }

 private:
  prometheus::MetricFamily family_;
};

}  // namespace quarry::metrics

#endif  // QUARRY_SERVER_METRICS_SCRAPE_TIME_FAMILY_H_
