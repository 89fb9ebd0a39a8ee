#include "index/store/ingest_log.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace quarry {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kHeaderBytes = 16;
constexpr uint64_t kFrameHeaderBytes = 8;

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/quarry_store_test_XXXXXX";
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string log() const { return path_ + "/log"; }

 private:
  std::string path_;
};

IngestLogOptions Options(uint64_t max_segment_bytes = 64ull << 20, bool sync = false) {
  IngestLogOptions options;
  options.max_segment_bytes = max_segment_bytes;
  options.sync = sync;
  return options;
}

LogRecord Upsert(const std::string& id, size_t text_bytes = 40) {
  LogRecord record;
  StoredDocument doc;
  doc.id = id;
  doc.title = "title of " + id;
  doc.text = std::string(text_bytes, 't');
  doc.metadata["source"] = std::string("test");
  doc.metadata["n"] = 1.5;
  doc.chunks.push_back({0, static_cast<uint32_t>(text_bytes), {0.25f, -0.5f, 1.0f}});
  record.documents.push_back(std::move(doc));
  return record;
}

LogRecord Delete(const std::string& id) {
  LogRecord record;
  record.type = LogRecord::Type::kDelete;
  record.deleted_ids = {id};
  return record;
}

std::string IdOf(const LogRecord& record) {
  return record.type == LogRecord::Type::kDelete ? "-" + record.deleted_ids.at(0)
                                                 : record.documents.at(0).id;
}

struct ReadResult {
  absl::Status status;
  LogPosition end;
  std::vector<std::string> ids;
  std::vector<LogPosition> positions;
};

ReadResult ReadAll(const std::string& directory, LogPosition from = {}) {
  IngestLogReader reader(directory);
  ReadResult result;
  absl::StatusOr<LogPosition> end =
      reader.ReadFrom(from, [&](const LogRecord& record, LogPosition next) {
        result.ids.push_back(IdOf(record));
        result.positions.push_back(next);
        return absl::OkStatus();
      });
  result.status = end.status();
  if (end.ok()) result.end = *end;
  return result;
}

std::vector<std::string> SegmentPaths(const std::string& directory) {
  std::vector<std::string> paths;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory)) {
    if (entry.path().extension() == ".qlog") paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::unique_ptr<IngestLogWriter> OpenWriter(const std::string& directory,
                                            const IngestLogOptions& options = Options()) {
  absl::StatusOr<std::unique_ptr<IngestLogWriter>> writer =
      IngestLogWriter::Open(directory, options);
  REQUIRE(writer.ok());
  return *std::move(writer);
}

LogPosition MustAppend(IngestLogWriter& writer, const LogRecord& record) {
  absl::StatusOr<LogPosition> position = writer.Append(record);
  INFO(position.status().ToString());
  REQUIRE(position.ok());
  return *position;
}

TEST_CASE("Appended records read back in order with growing positions", "[ingest_log]") {
  TempDir dir;
  auto writer = OpenWriter(dir.log(), Options(64ull << 20, /*sync=*/true));
  std::vector<LogPosition> appended;
  for (int i = 0; i < 20; ++i) {
    appended.push_back(MustAppend(
        *writer, i % 5 == 4 ? Delete(absl::StrCat("d", i)) : Upsert(absl::StrCat("d", i))));
  }
  for (size_t i = 1; i < appended.size(); ++i) REQUIRE(appended[i - 1] < appended[i]);
  REQUIRE(appended[0] > LogPosition{});

  ReadResult all = ReadAll(dir.log());
  REQUIRE(all.status.ok());
  REQUIRE(all.ids.size() == 20);
  REQUIRE(all.ids[0] == "d0");
  REQUIRE(all.ids[4] == "-d4");
  REQUIRE(all.positions == appended);
  REQUIRE(all.end == appended.back());

  // The payload survives: check one record's fields.
  IngestLogReader reader(dir.log());
  int seen = 0;
  absl::StatusOr<LogPosition> end = reader.ReadFrom(appended[1], [&](const LogRecord& record,
                                                                     LogPosition) {
    if (seen++ == 0) {
      REQUIRE(record.documents.at(0).id == "d2");
      REQUIRE(record.documents[0].title == "title of d2");
      REQUIRE(std::get<double>(record.documents[0].metadata.at("n")) == 1.5);
      REQUIRE(record.documents[0].chunks.at(0).vector == std::vector<float>{0.25f, -0.5f, 1.0f});
    }
    return absl::OkStatus();
  });
  REQUIRE(end.ok());
  REQUIRE(seen == 18);
  REQUIRE(IngestLogDiskBytes(dir.log()) == fs::file_size(SegmentPaths(dir.log()).at(0)));
}

TEST_CASE("Reading from a returned position yields only later records", "[ingest_log]") {
  TempDir dir;
  auto writer = OpenWriter(dir.log());
  std::vector<LogPosition> appended;
  for (int i = 0; i < 10; ++i) appended.push_back(MustAppend(*writer, Upsert(absl::StrCat(i))));

  for (size_t k = 0; k < appended.size(); ++k) {
    ReadResult rest = ReadAll(dir.log(), appended[k]);
    REQUIRE(rest.status.ok());
    REQUIRE(rest.ids.size() == appended.size() - k - 1);
    if (!rest.ids.empty()) REQUIRE(rest.ids.front() == absl::StrCat(k + 1));
  }
  ReadResult none = ReadAll(dir.log(), appended.back());
  REQUIRE(none.status.ok());
  REQUIRE(none.ids.empty());
  REQUIRE(none.end == appended.back());

  // Tailing: the same reader position picks up what is appended later.
  MustAppend(*writer, Upsert("late"));
  ReadResult late = ReadAll(dir.log(), appended.back());
  REQUIRE(late.status.ok());
  REQUIRE(late.ids == std::vector<std::string>{"late"});
}

TEST_CASE("A log that does not exist or is empty reads as nothing", "[ingest_log]") {
  TempDir dir;
  ReadResult missing = ReadAll(dir.path() + "/nothing");
  REQUIRE(missing.status.ok());
  REQUIRE(missing.ids.empty());
  REQUIRE(missing.end == LogPosition{});
  REQUIRE(IngestLogDiskBytes(dir.path() + "/nothing") == 0);

  // Open creates nested directories but no segment until the first append.
  auto writer = OpenWriter(dir.path() + "/a/b/c");
  REQUIRE(fs::is_directory(dir.path() + "/a/b/c"));
  ReadResult empty = ReadAll(dir.path() + "/a/b/c");
  REQUIRE(empty.status.ok());
  REQUIRE(empty.ids.empty());
}

TEST_CASE("Segments roll over and are read across", "[ingest_log]") {
  TempDir dir;
  auto writer = OpenWriter(dir.log(), Options(/*max_segment_bytes=*/1024));
  std::vector<LogPosition> appended;
  for (int i = 0; i < 40; ++i) {
    appended.push_back(MustAppend(*writer, Upsert(absl::StrCat("r", i), 200)));
  }
  const std::vector<std::string> segments = SegmentPaths(dir.log());
  REQUIRE(segments.size() > 5);
  REQUIRE(fs::path(segments[0]).filename() == "00000000000000000001.qlog");
  REQUIRE(fs::path(segments[1]).filename() == "00000000000000000002.qlog");
  uint64_t total = 0;
  for (const std::string& path : segments) {
    total += fs::file_size(path);
    // A segment is only closed once it exceeds the limit, so no segment holds more than
    // the limit plus one frame.
    REQUIRE(fs::file_size(path) < 1024 + 400);
  }
  REQUIRE(IngestLogDiskBytes(dir.log()) == total);
  REQUIRE(appended.back().segment == segments.size());
  for (size_t i = 1; i < appended.size(); ++i) REQUIRE(appended[i - 1] < appended[i]);

  ReadResult all = ReadAll(dir.log());
  REQUIRE(all.status.ok());
  REQUIRE(all.ids.size() == 40);
  for (int i = 0; i < 40; ++i) REQUIRE(all.ids[i] == absl::StrCat("r", i));
  REQUIRE(all.positions == appended);

  // From the last record of a segment, reading continues in the next one.
  for (size_t k = 0; k + 1 < appended.size(); ++k) {
    if (appended[k].segment == appended[k + 1].segment) continue;
    ReadResult rest = ReadAll(dir.log(), appended[k]);
    REQUIRE(rest.status.ok());
    REQUIRE(rest.ids.size() == appended.size() - k - 1);
    REQUIRE(rest.ids.front() == absl::StrCat("r", k + 1));
  }

  // A new writer continues in the last segment.
  auto second = OpenWriter(dir.log(), Options(1024));
  LogPosition next = MustAppend(*second, Upsert("after"));
  REQUIRE(next > appended.back());
  REQUIRE(ReadAll(dir.log()).ids.back() == "after");
}

TEST_CASE("A torn tail is skipped by readers and cut off by the next append", "[ingest_log]") {
  for (uint64_t cut_into_frame : {1, 4, 7, 8, 9, 20, 50}) {
    DYNAMIC_SECTION("cut " << cut_into_frame << " bytes into the last frame") {
      TempDir dir;
      LogPosition second;
      LogPosition third;
      {
        auto writer = OpenWriter(dir.log());
        MustAppend(*writer, Upsert("one"));
        second = MustAppend(*writer, Upsert("two"));
        third = MustAppend(*writer, Upsert("three"));
      }
      REQUIRE(third.offset - second.offset > 50);
      const std::string segment = SegmentPaths(dir.log()).at(0);
      fs::resize_file(segment, second.offset + cut_into_frame);

      ReadResult torn = ReadAll(dir.log());
      REQUIRE(torn.status.ok());
      REQUIRE(torn.ids == std::vector<std::string>{"one", "two"});
      REQUIRE(torn.end == second);

      auto writer = OpenWriter(dir.log());
      LogPosition fourth = MustAppend(*writer, Upsert("four"));
      REQUIRE(fourth.segment == second.segment);
      REQUIRE(fourth.offset ==
              second.offset + kFrameHeaderBytes + EncodeLogRecord(Upsert("four")).size());
      ReadResult repaired = ReadAll(dir.log());
      REQUIRE(repaired.status.ok());
      REQUIRE(repaired.ids == std::vector<std::string>{"one", "two", "four"});
      REQUIRE(fs::file_size(segment) == fourth.offset);
    }
  }
}

TEST_CASE("A torn tail longer than the next record is cut off completely", "[ingest_log]") {
  TempDir dir;
  LogPosition first;
  {
    auto writer = OpenWriter(dir.log());
    first = MustAppend(*writer, Upsert("one"));
    MustAppend(*writer, Upsert("big", 5000));
  }
  const std::string segment = SegmentPaths(dir.log()).at(0);
  fs::resize_file(segment, first.offset + 3000);

  auto writer = OpenWriter(dir.log());
  LogPosition second = MustAppend(*writer, Upsert("two"));
  REQUIRE(fs::file_size(segment) == second.offset);
  LogPosition third = MustAppend(*writer, Upsert("three"));
  REQUIRE(fs::file_size(segment) == third.offset);
  ReadResult all = ReadAll(dir.log());
  REQUIRE(all.status.ok());
  REQUIRE(all.ids == std::vector<std::string>{"one", "two", "three"});
}

TEST_CASE("A torn tail cut by a writer that already cached the segment", "[ingest_log]") {
  TempDir dir;
  auto writer = OpenWriter(dir.log());
  MustAppend(*writer, Upsert("one"));
  LogPosition second = MustAppend(*writer, Upsert("two"));
  // Another process crashed halfway through its append.
  std::string bytes = ReadBytes(SegmentPaths(dir.log()).at(0));
  WriteBytes(SegmentPaths(dir.log()).at(0), bytes + std::string("\x40\x00\x00\x00\x12", 5));
  MustAppend(*writer, Upsert("three"));
  ReadResult all = ReadAll(dir.log());
  REQUIRE(all.status.ok());
  REQUIRE(all.ids == std::vector<std::string>{"one", "two", "three"});
  REQUIRE(all.positions[1] == second);
}

TEST_CASE("A checksum mismatch in the very last frame is a torn tail", "[ingest_log]") {
  TempDir dir;
  LogPosition first;
  {
    auto writer = OpenWriter(dir.log());
    first = MustAppend(*writer, Upsert("one"));
    MustAppend(*writer, Upsert("two"));
  }
  const std::string segment = SegmentPaths(dir.log()).at(0);
  std::string bytes = ReadBytes(segment);
  bytes[bytes.size() - 3] ^= 0x55;  // inside the last payload
  WriteBytes(segment, bytes);

  ReadResult torn = ReadAll(dir.log());
  REQUIRE(torn.status.ok());
  REQUIRE(torn.ids == std::vector<std::string>{"one"});

  auto writer = OpenWriter(dir.log());
  MustAppend(*writer, Upsert("three"));
  REQUIRE(ReadAll(dir.log()).ids == std::vector<std::string>{"one", "three"});
}

TEST_CASE("A zero-filled tail is a torn tail", "[ingest_log]") {
  TempDir dir;
  auto writer = OpenWriter(dir.log());
  MustAppend(*writer, Upsert("one"));
  const std::string segment = SegmentPaths(dir.log()).at(0);
  const uint64_t size = fs::file_size(segment);
  fs::resize_file(segment, size + 4096);  // zeros

  ReadResult torn = ReadAll(dir.log());
  REQUIRE(torn.status.ok());
  REQUIRE(torn.ids == std::vector<std::string>{"one"});
  MustAppend(*writer, Upsert("two"));
  REQUIRE(ReadAll(dir.log()).ids == std::vector<std::string>{"one", "two"});
}

TEST_CASE("A corrupt byte in a middle frame is DATA_LOSS naming the segment", "[ingest_log]") {
  TempDir dir;
  LogPosition first;
  {
    auto writer = OpenWriter(dir.log());
    first = MustAppend(*writer, Upsert("one"));
    MustAppend(*writer, Upsert("two"));
    MustAppend(*writer, Upsert("three"));
  }
  const std::string segment = SegmentPaths(dir.log()).at(0);

  SECTION("in the payload") {
    std::string bytes = ReadBytes(segment);
    bytes[first.offset + kFrameHeaderBytes + 5] ^= 0x01;
    WriteBytes(segment, bytes);
  }
  SECTION("in the checksum") {
    std::string bytes = ReadBytes(segment);
    bytes[first.offset + 5] ^= 0x01;
    WriteBytes(segment, bytes);
  }
  SECTION("in the length, making it shorter") {
    std::string bytes = ReadBytes(segment);
    bytes[first.offset] = static_cast<char>(bytes[first.offset] - 1);
    WriteBytes(segment, bytes);
  }
  SECTION("a zero length with data after it") {
    std::string bytes = ReadBytes(segment);
    std::fill_n(bytes.begin() + static_cast<ptrdiff_t>(first.offset), 8, '\0');
    WriteBytes(segment, bytes);
  }

  ReadResult corrupt = ReadAll(dir.log());
  REQUIRE(corrupt.status.code() == absl::StatusCode::kDataLoss);
  REQUIRE_THAT(std::string(corrupt.status.message()),
               Catch::Contains("00000000000000000001.qlog") &&
                   Catch::Contains(absl::StrCat("offset ", first.offset)));
  REQUIRE(corrupt.ids == std::vector<std::string>{"one"});  // records before it were visited

  // A writer that has to check the segment refuses to append after corruption, and leaves
  // the file alone. (One that already validated those bytes does not read them again.)
  const uint64_t size = fs::file_size(segment);
  auto writer = OpenWriter(dir.log());
  absl::StatusOr<LogPosition> refused = writer->Append(Upsert("four"));
  REQUIRE(refused.status().code() == absl::StatusCode::kDataLoss);
  REQUIRE_THAT(std::string(refused.status().message()),
               Catch::Contains("00000000000000000001.qlog"));
  REQUIRE(writer->Append(Upsert("four")).status().code() == absl::StatusCode::kDataLoss);
  REQUIRE(fs::file_size(segment) == size);
}

TEST_CASE("A bad frame in a segment that is not the last is DATA_LOSS", "[ingest_log]") {
  TempDir dir;
  auto writer = OpenWriter(dir.log(), Options(/*max_segment_bytes=*/300));
  std::vector<LogPosition> appended;
  for (int i = 0; i < 8; ++i) appended.push_back(MustAppend(*writer, Upsert(absl::StrCat(i))));
  const std::vector<std::string> segments = SegmentPaths(dir.log());
  REQUIRE(segments.size() >= 3);

  SECTION("cut short") { fs::resize_file(segments[0], fs::file_size(segments[0]) - 3); }
  SECTION("checksum mismatch in its last frame") {
    std::string bytes = ReadBytes(segments[0]);
    bytes[bytes.size() - 2] ^= 0x10;
    WriteBytes(segments[0], bytes);
  }
  ReadResult corrupt = ReadAll(dir.log());
  REQUIRE(corrupt.status.code() == absl::StatusCode::kDataLoss);
  REQUIRE_THAT(std::string(corrupt.status.message()), Catch::Contains("00000000000000000001.qlog"));
}

TEST_CASE("A bad segment header is DATA_LOSS", "[ingest_log]") {
  TempDir dir;
  {
    auto writer = OpenWriter(dir.log());
    MustAppend(*writer, Upsert("one"));
  }
  const std::string segment = SegmentPaths(dir.log()).at(0);
  std::string bytes = ReadBytes(segment);
  SECTION("magic") { bytes[0] = 'X'; }
  SECTION("version") { bytes[8] = 2; }
  SECTION("shorter than a header") { bytes.resize(10); }
  WriteBytes(segment, bytes);

  ReadResult bad = ReadAll(dir.log());
  REQUIRE(bad.status.code() == absl::StatusCode::kDataLoss);
  REQUIRE_THAT(std::string(bad.status.message()), Catch::Contains("00000000000000000001.qlog"));
  auto writer = OpenWriter(dir.log());
  REQUIRE(writer->Append(Upsert("two")).status().code() == absl::StatusCode::kDataLoss);
}

TEST_CASE("A missing middle segment is DATA_LOSS but retired segments are skipped",
          "[ingest_log]") {
  TempDir dir;
  auto writer = OpenWriter(dir.log(), Options(/*max_segment_bytes=*/100));  // one per segment
  std::vector<LogPosition> appended;
  for (int i = 0; i < 6; ++i) appended.push_back(MustAppend(*writer, Upsert(absl::StrCat(i))));
  std::vector<std::string> segments = SegmentPaths(dir.log());
  REQUIRE(segments.size() == 6);

  SECTION("retired prefix") {
    fs::remove(segments[0]);
    fs::remove(segments[1]);
    ReadResult rest = ReadAll(dir.log());
    REQUIRE(rest.status.ok());
    REQUIRE(rest.ids == std::vector<std::string>{"2", "3", "4", "5"});
    ReadResult from_retired = ReadAll(dir.log(), appended[0]);
    REQUIRE(from_retired.ids == rest.ids);
  }
  SECTION("gap") {
    fs::remove(segments[3]);
    ReadResult gap = ReadAll(dir.log());
    REQUIRE(gap.status.code() == absl::StatusCode::kDataLoss);
    REQUIRE(gap.ids == std::vector<std::string>{"0", "1", "2"});
  }
}

TEST_CASE("Bad positions and visitor errors", "[ingest_log]") {
  TempDir dir;
  auto writer = OpenWriter(dir.log());
  LogPosition first = MustAppend(*writer, Upsert("one"));
  MustAppend(*writer, Upsert("two"));
  MustAppend(*writer, Upsert("three"));

  REQUIRE(ReadAll(dir.log(), {1, 3}).status.code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(ReadAll(dir.log(), {1, 1 << 20}).status.code() == absl::StatusCode::kOutOfRange);
  ReadResult header_start = ReadAll(dir.log(), {1, 0});
  REQUIRE(header_start.ids.size() == 3);
  REQUIRE(ReadAll(dir.log(), {7, 0}).ids.empty());  // a segment not written yet

  IngestLogReader reader(dir.log());
  int visits = 0;
  absl::StatusOr<LogPosition> stopped =
      reader.ReadFrom({}, [&](const LogRecord&, LogPosition next) -> absl::Status {
        ++visits;
        if (next > first) return absl::CancelledError("enough");
        return absl::OkStatus();
      });
  REQUIRE(stopped.status().code() == absl::StatusCode::kCancelled);
  REQUIRE(visits == 2);
}

TEST_CASE("Records the decoder would reject are refused before they are written", "[ingest_log]") {
  TempDir dir;
  auto writer = OpenWriter(dir.log());
  MustAppend(*writer, Upsert("one"));
  LogRecord bad = Upsert("bad");
  bad.documents[0].chunks.push_back({5, 1000, {}});
  REQUIRE(writer->Append(bad).status().code() == absl::StatusCode::kInvalidArgument);
  ReadResult all = ReadAll(dir.log());
  REQUIRE(all.status.ok());
  REQUIRE(all.ids == std::vector<std::string>{"one"});
}

TEST_CASE("Two writers on one log from many threads never lose or interleave records",
          "[ingest_log]") {
  TempDir dir;
  // Small segments, so that writers also race on rolling over.
  const IngestLogOptions options = Options(/*max_segment_bytes=*/16 << 10);
  std::vector<std::unique_ptr<IngestLogWriter>> writers;
  writers.push_back(OpenWriter(dir.log(), options));
  writers.push_back(OpenWriter(dir.log(), options));
  constexpr int kThreadsPerWriter = 4;
  constexpr int kRecordsPerThread = 60;
  std::vector<std::thread> threads;
  std::vector<std::string> errors(writers.size() * kThreadsPerWriter);
  for (size_t w = 0; w < writers.size(); ++w) {
    for (int t = 0; t < kThreadsPerWriter; ++t) {
      threads.emplace_back([&, w, t] {
        for (int i = 0; i < kRecordsPerThread; ++i) {
          // Varying sizes make an interleaved or misplaced frame show as a bad checksum.
          absl::StatusOr<LogPosition> position = writers[w]->Append(
              Upsert(absl::StrCat("w", w, "-t", t, "-", i), 50 + 37 * ((i + t) % 11)));
          if (!position.ok()) {
            errors[w * kThreadsPerWriter + t] = position.status().ToString();
            return;
          }
        }
      });
    }
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& error : errors) REQUIRE(error.empty());

  ReadResult all = ReadAll(dir.log());
  REQUIRE(all.status.ok());
  REQUIRE(all.ids.size() == writers.size() * kThreadsPerWriter * kRecordsPerThread);
  std::map<std::string, int> counts;
  std::map<std::string, int> last_index;  // per thread: records keep their order
  for (const std::string& id : all.ids) {
    ++counts[id];
    const size_t dash = id.rfind('-');
    const std::string thread = id.substr(0, dash);
    const int index = std::stoi(id.substr(dash + 1));
    auto it = last_index.find(thread);
    if (it != last_index.end()) REQUIRE(index == it->second + 1);
    last_index[thread] = index;
  }
  for (const auto& [id, count] : counts) REQUIRE(count == 1);
  REQUIRE(SegmentPaths(dir.log()).size() > 2);
}

TEST_CASE("A forked process appends concurrently with its parent", "[ingest_log]") {
  TempDir dir;
  constexpr int kRecords = 150;
  const IngestLogOptions options = Options(/*max_segment_bytes=*/8 << 10);
  auto parent_writer = OpenWriter(dir.log(), options);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // A separate Open: the parent's LOCK descriptor is shared with the child after fork, so
    // only a new open file description excludes the parent.
    absl::StatusOr<std::unique_ptr<IngestLogWriter>> writer =
        IngestLogWriter::Open(dir.log(), options);
    if (!writer.ok()) _exit(2);
    for (int i = 0; i < kRecords; ++i) {
      if (!(*writer)->Append(Upsert(absl::StrCat("child-", i), 30 + i % 300)).ok()) _exit(3);
    }
    _exit(0);
  }
  // No REQUIRE until the child is reaped: a failure must not leave it writing into a
  // directory that TempDir is removing.
  absl::Status parent_status;
  for (int i = 0; i < kRecords && parent_status.ok(); ++i) {
    parent_status =
        parent_writer->Append(Upsert(absl::StrCat("parent-", i), 30 + (i * 7) % 300)).status();
  }
  int wait_status = 0;
  const pid_t reaped = waitpid(child, &wait_status, 0);
  INFO(parent_status.ToString());
  REQUIRE(parent_status.ok());
  REQUIRE(reaped == child);
  REQUIRE(WIFEXITED(wait_status));
  REQUIRE(WEXITSTATUS(wait_status) == 0);

  ReadResult all = ReadAll(dir.log());
  REQUIRE(all.status.ok());
  REQUIRE(all.ids.size() == 2 * kRecords);
  std::map<std::string, int> counts;
  for (const std::string& id : all.ids) ++counts[id];
  REQUIRE(counts.size() == 2 * kRecords);
}

}  // namespace
}  // namespace quarry
