#include "server/metrics/process_metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "server/metrics/scrape_time_family.h"

namespace quarry::metrics {
namespace {

using prometheus::MetricType;

std::string ReadProcFile(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int64_t CountOpenDescriptors() {
  DIR* directory = opendir("/proc/self/fd");
  if (directory == nullptr) return 0;
  int64_t count = 0;
  while (const dirent* entry = readdir(directory)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(directory);
  return count - 1;  // the descriptor of the listing itself
}

// The number after `label` at the start of a line of a /proc text ("VmHWM:", "btime "); 0 when
// absent.
double FieldAfter(const std::string& text, const std::string& label) {
  const size_t at = ("\n" + text).find("\n" + label);
  if (at == std::string::npos) return 0;
  std::istringstream in(text.substr(at + label.size()));
  double value = 0;
  in >> value;
  return value;
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  const double page_bytes = static_cast<double>(sysconf(_SC_PAGESIZE));
  const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::vector<prometheus::MetricFamily> families;

  std::istringstream statm(ReadProcFile("/proc/self/statm"));
  double virtual_pages = 0;
  double resident_pages = 0;
  statm >> virtual_pages >> resident_pages;
  families.push_back(ScrapeTimeFamily("process_virtual_memory_bytes", "Virtual memory size",
                                      MetricType::Gauge)
                         .Add(virtual_pages * page_bytes)
                         .Take());
  families.push_back(ScrapeTimeFamily("process_resident_memory_bytes", "Resident memory size",
                                      MetricType::Gauge)
                         .Add(resident_pages * page_bytes)
                         .Take());

  const std::string status = ReadProcFile("/proc/self/status");
  families.push_back(ScrapeTimeFamily("process_resident_memory_max_bytes",
                                      "Peak resident memory size (VmHWM)", MetricType::Gauge)
                         .Add(FieldAfter(status, "VmHWM:") * 1024)
                         .Take());
  families.push_back(
      ScrapeTimeFamily("process_threads", "OS threads in the process", MetricType::Gauge)
          .Add(FieldAfter(status, "Threads:"))
          .Take());

  // /proc/self/stat: the fields after the parenthesised command name, which may hold spaces.
  const std::string stat = ReadProcFile("/proc/self/stat");
  const size_t command_end = stat.rfind(')');
  std::istringstream fields(command_end == std::string::npos ? "" : stat.substr(command_end + 1));
  std::string field;
  double user_ticks = 0;
  double system_ticks = 0;
  double start_ticks = 0;
  for (int number = 3; fields >> field; ++number) {  // field 3 is the state
    const double value = std::strtod(field.c_str(), nullptr);
    if (number == 14) user_ticks = value;
    if (number == 15) system_ticks = value;
    if (number == 22) start_ticks = value;
  }
  families.push_back(ScrapeTimeFamily("process_cpu_seconds_total",
                                      "User and system CPU time spent", MetricType::Counter)
                         .Add((user_ticks + system_ticks) / ticks_per_second)
                         .Take());
  const double boot_time = FieldAfter(ReadProcFile("/proc/stat"), "btime ");
  families.push_back(ScrapeTimeFamily("process_start_time_seconds",
                                      "Start time of the process since the Unix epoch",
                                      MetricType::Gauge)
                         .Add(boot_time + start_ticks / ticks_per_second)
                         .Take());
  families.push_back(
      ScrapeTimeFamily("process_open_fds", "Open file descriptors", MetricType::Gauge)
          .Add(static_cast<double>(CountOpenDescriptors()))
          .Take());
  // Whether the served shards' dense indexes made it onto huge pages (index/huge_pages.h):
  // 0 where transparent huge pages are off or the kernel predates MADV_COLLAPSE.
  families.push_back(
      ScrapeTimeFamily("quarry_anon_huge_pages_bytes",
                       "Anonymous memory backed by transparent huge pages (AnonHugePages)",
                       MetricType::Gauge)
          .Add(FieldAfter(ReadProcFile("/proc/self/smaps_rollup"), "AnonHugePages:") * 1024)
          .Take());
  return families;
}

}  // namespace quarry::metrics
