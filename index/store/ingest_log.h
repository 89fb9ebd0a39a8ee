// The ingest log: a collection's append-only, checksummed, fsync'd write-ahead log. Every
// acknowledged Ingest/Delete is in it before the RPC answers; everything a server serves that
// is not in a shard is rebuilt from it.
//
// On disk: a directory of segment files "<20-digit number>.qlog". Each segment starts with a
// 16-byte header ("QUARRYLG", u32 format version = 1, u32 zero) followed by frames:
//   u32 payload length, u32 CRC-32 (zlib) of the payload, payload (see log_record.h).
// A writer rolls to the next segment when the current one exceeds max_segment_bytes.
//
// Several processes may append to one log (servers sharing a data directory): appends take an
// exclusive flock on the directory's LOCK file, so frames never interleave. A crash can leave
// a torn frame at the end of the last segment; readers stop before it and the next appender
// truncates it away. A bad frame anywhere else is corruption and reported as DATA_LOSS.
#ifndef QUARRY_INDEX_STORE_INGEST_LOG_H_
#define QUARRY_INDEX_STORE_INGEST_LOG_H_

#include <compare>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "index/store/log_record.h"

namespace quarry {

// A place in the log: the segment number and the byte offset of a frame in it.
// Positions only grow; {0, 0} is before the first record.
struct LogPosition {
  uint64_t segment = 0;
  uint64_t offset = 0;
  auto operator<=>(const LogPosition&) const = default;
};

struct IngestLogOptions {
  uint64_t max_segment_bytes = 64ull << 20;
  // fsync data and directory on every append. Off only in tests and benchmarks that say so.
  bool sync = true;
};

// Appends records. Thread-safe; safe across processes.
class IngestLogWriter {
 public:
  // Creates the directory if needed.
  static absl::StatusOr<std::unique_ptr<IngestLogWriter>> Open(const std::string& directory,
                                                               const IngestLogOptions& options);
  ~IngestLogWriter();

  // Durably appends one record; returns the position just after it.
  absl::StatusOr<LogPosition> Append(const LogRecord& record);

 private:
  IngestLogWriter() = default;
  struct State;
  absl::Mutex mutex_;
  std::unique_ptr<State> state_;
};

// Reads records in order from a position onward. A reader on a live log sees new records on
// its next call (tailing). Not thread-safe; use one per consumer.
class IngestLogReader {
 public:
  explicit IngestLogReader(std::string directory) : directory_(std::move(directory)) {}

  // Calls `visitor` for each complete record at or after `from`, in order, with the position
  // just after that record. Stops quietly at a torn tail; DATA_LOSS (naming the segment and
  // offset) at a corrupt frame that is not the tail; stops at the first error `visitor`
  // returns. Returns the position after the last record visited (or `from`).
  absl::StatusOr<LogPosition> ReadFrom(
      LogPosition from,
      absl::FunctionRef<absl::Status(const LogRecord& record, LogPosition next)> visitor);

 private:
  std::string directory_;
};

// Total bytes of the log's segment files.
uint64_t IngestLogDiskBytes(const std::string& directory);

}  // namespace quarry

#endif  // QUARRY_INDEX_STORE_INGEST_LOG_H_
