// Reads what a prometheus::Registry (or any Collectable) holds, for tests of metric values.
#ifndef QUARRY_TESTS_UNIT_METRIC_VALUE_H_
#define QUARRY_TESTS_UNIT_METRIC_VALUE_H_

#include <algorithm>
#include <map>
#include <string>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace quarry::testing {

// A counter's or gauge's value, or a histogram's sample count, summed over the series of
// `name` whose labels include `labels`.
inline double MetricValue(const prometheus::Collectable& collectable, const std::string& name,
                          const std::map<std::string, std::string>& labels = {}) {
  double sum = 0;
  for (const prometheus::MetricFamily& family : collectable.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      const bool matches = std::all_of(labels.begin(), labels.end(), [&](const auto& label) {
        return std::find(metric.label.begin(), metric.label.end(),
                         prometheus::ClientMetric::Label{label.first, label.second}) !=
               metric.label.end();
      });
      if (!matches) continue;
      switch (family.type) {
        case prometheus::MetricType::Histogram:
          sum += static_cast<double>(metric.histogram.sample_count);
          break;
        case prometheus::MetricType::Gauge:
          sum += metric.gauge.value;
          break;
        default:
          sum += metric.counter.value;
      }
    }
  }
  return sum;
}

}  // namespace quarry::testing

#endif  // QUARRY_TESTS_UNIT_METRIC_VALUE_H_
