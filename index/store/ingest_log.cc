#include "index/store/ingest_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace quarry {
namespace {

static_assert(std::endian::native == std::endian::little,
              "frame headers are read and written as native u32s");

constexpr char kMagic[8] = {'Q', 'U', 'A', 'R', 'R', 'Y', 'L', 'G'};
constexpr uint32_t kFormatVersion = 1;
constexpr uint64_t kSegmentHeaderBytes = 16;
constexpr uint64_t kFrameHeaderBytes = 8;
// The smallest record payload is version, type and a zero count. Anything shorter, in
// particular the zero length of a zero-filled tail, cannot be a frame.
constexpr uint32_t kMinPayloadBytes = 3;
// Guards against a garbage length making a reader allocate or a scan trust a huge frame.
constexpr uint32_t kMaxPayloadBytes = 1u << 30;
constexpr size_t kReadBlockBytes = 1 << 20;
constexpr std::string_view kSegmentSuffix = ".qlog";
constexpr std::string_view kTempSuffix = ".qlog.tmp";
constexpr size_t kSegmentDigits = 20;
constexpr char kLockFileName[] = "LOCK";

// Debian's abseil has its own string_view type, hence absl::string_view in what feeds StrCat.
absl::Status SyscallError(absl::string_view operation, absl::string_view path, int error_number) {
  return absl::ErrnoToStatus(error_number, absl::StrCat(operation, " ", path));
}

std::string JoinPath(absl::string_view directory, absl::string_view name) {
  return absl::StrCat(directory, "/", name);
}

std::string SegmentName(uint64_t segment) {
  std::string name = absl::StrFormat("%020d", segment);
  name.append(kSegmentSuffix);
  return name;
}

bool ParseSegmentName(std::string_view name, uint64_t* segment) {
  if (name.size() != kSegmentDigits + kSegmentSuffix.size() || !name.ends_with(kSegmentSuffix)) {
    return false;
  }
  std::string_view digits = name.substr(0, kSegmentDigits);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  return absl::SimpleAtoi(absl::string_view(digits.data(), digits.size()), segment);
}

uint32_t LoadU32(const char* p) {
  uint32_t value;
  std::memcpy(&value, p, sizeof(value));
  return value;
}

uint32_t Crc32(std::string_view data) {
  // zlib takes uInt lengths; payloads are at most kMaxPayloadBytes, well below that.
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

std::string SegmentHeader() {
  std::string header(kMagic, sizeof(kMagic));
  const uint32_t version = kFormatVersion;
  const uint32_t reserved = 0;
  header.append(reinterpret_cast<const char*>(&version), sizeof(version));
  header.append(reinterpret_cast<const char*>(&reserved), sizeof(reserved));
  return header;
}

class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept {
    if (this != &other) Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset(int fd = -1) {
    // close() errors are not actionable here: every write that matters was fsync'd first.
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

absl::StatusOr<ScopedFd> OpenFile(const std::string& path, int flags, mode_t mode = 0) {
  for (;;) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd >= 0) return ScopedFd(fd);
    if (errno != EINTR) return SyscallError("open", path, errno);
  }
}

absl::StatusOr<struct stat> Fstat(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return SyscallError("fstat", path, errno);
  return st;
}

absl::Status FsyncFd(int fd, const std::string& path) {
  if (::fsync(fd) != 0) return SyscallError("fsync", path, errno);
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& path) {
  absl::StatusOr<ScopedFd> fd = OpenFile(path, O_RDONLY | O_DIRECTORY);
  if (!fd.ok()) return fd.status();
  return FsyncFd(fd->get(), path);
}

std::string ParentOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// mkdir -p. With `sync`, each directory it creates is made durable in its parent, so a log
// whose first segment was fsync'd cannot vanish with its directory after a crash.
absl::Status CreateDirectories(const std::string& path, bool sync) {
  std::string prefix;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    prefix = path.substr(0, slash);
    start = slash + 1;
    if (prefix.empty() || prefix.back() == '/') continue;  // leading or doubled slash
    if (::mkdir(prefix.c_str(), 0755) == 0) {
      if (sync) {
        if (absl::Status s = SyncDirectory(ParentOf(prefix)); !s.ok()) return s;
      }
    } else if (errno != EEXIST) {
      return SyscallError("mkdir", prefix, errno);
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return SyscallError("stat", path, errno);
  if (!S_ISDIR(st.st_mode)) return absl::FailedPreconditionError(path + " is not a directory");
  return absl::OkStatus();
}

struct DirectoryListing {
  std::vector<uint64_t> segments;  // sorted
  std::vector<std::string> temp_files;
};

absl::StatusOr<DirectoryListing> ListDirectory(const std::string& directory) {
  DIR* dir = ::opendir(directory.c_str());
  if (dir == nullptr) return SyscallError("opendir", directory, errno);
  std::unique_ptr<DIR, int (*)(DIR*)> closer(dir, &::closedir);
  DirectoryListing listing;
  for (;;) {
    errno = 0;
    const struct dirent* entry = ::readdir(dir);
    if (entry == nullptr) {
      if (errno != 0) return SyscallError("readdir", directory, errno);
      break;
    }
    std::string_view name = entry->d_name;
    uint64_t segment = 0;
    if (ParseSegmentName(name, &segment)) {
      listing.segments.push_back(segment);
    } else if (name.ends_with(kTempSuffix)) {
      listing.temp_files.emplace_back(name);
    }
  }
  std::sort(listing.segments.begin(), listing.segments.end());
  return listing;
}

absl::Status PreadFully(int fd, const std::string& path, uint64_t offset, char* out, size_t length,
                        size_t* read_bytes) {
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return SyscallError("pread", path, errno);
    }
    if (n == 0) break;  // the file is shorter than it was when its size was taken
    done += static_cast<size_t>(n);
  }
  *read_bytes = done;
  return absl::OkStatus();
}

absl::Status PwriteFully(int fd, const std::string& path, uint64_t offset, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return SyscallError("pwrite", path, errno);
    }
    if (n == 0) return absl::InternalError(absl::StrCat("pwrite ", path, ": wrote 0 bytes"));
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

// One segment file read through a large buffer: scanning costs a syscall per block rather
// than one per field. `size` is the file's size when it was opened; a writer may append past
// it meanwhile, which the next read of the log picks up.
class SegmentFile {
 public:
  SegmentFile(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size) {}

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }

  // The bytes [offset, offset + length), with length <= size() - offset. The view is shorter
  // when the file shrank under us and is valid until the next call.
  absl::StatusOr<std::string_view> Read(uint64_t offset, size_t length) {
    if (offset < buffer_offset_ || offset + length > buffer_offset_ + buffer_length_) {
      const size_t want = static_cast<size_t>(
          std::min<uint64_t>(std::max(length, kReadBlockBytes), size_ - offset));
      if (buffer_.size() < want) buffer_.resize(want);
      buffer_offset_ = offset;
      buffer_length_ = 0;
      if (absl::Status s = PreadFully(fd_, path_, offset, buffer_.data(), want, &buffer_length_);
          !s.ok()) {
        return s;
      }
    }
    const size_t start = static_cast<size_t>(offset - buffer_offset_);
    return std::string_view(buffer_.data() + start,
                            std::min(length, buffer_length_ - std::min(start, buffer_length_)));
  }

 private:
  int fd_;
  std::string path_;
  uint64_t size_;
  std::string buffer_;
  uint64_t buffer_offset_ = 0;
  size_t buffer_length_ = 0;
};

absl::Status CheckSegmentHeader(SegmentFile& file) {
  if (file.size() < kSegmentHeaderBytes) {
    return absl::DataLossError(absl::StrCat("ingest log segment ", file.path(), " is ", file.size(),
                                            " bytes, shorter than its header"));
  }
  absl::StatusOr<std::string_view> header = file.Read(0, kSegmentHeaderBytes);
  if (!header.ok()) return header.status();
  if (header->size() < kSegmentHeaderBytes ||
      std::memcmp(header->data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError(
        absl::StrCat("ingest log segment ", file.path(), " has a bad header (magic)"));
  }
  const uint32_t version = LoadU32(header->data() + sizeof(kMagic));
  if (version != kFormatVersion) {
    return absl::DataLossError(
        absl::StrCat("ingest log segment ", file.path(), " has unknown format version ", version));
  }
  return absl::OkStatus();
}

enum class FrameKind {
  kRecord,  // a complete frame with a good checksum
  kEnd,     // exactly at the end of the file
  kTorn,    // a bad frame shaped like what a crash mid-append leaves at the end of the log
  kCorrupt  // any other bad frame
};

struct Frame {
  FrameKind kind = FrameKind::kEnd;
  std::string_view payload;  // kRecord; valid until the next read of the file
  uint64_t next = 0;         // kRecord: the offset after the frame
  std::string problem;       // kTorn, kCorrupt
};

// Whether every byte in [from, size) is zero: what a crash can leave when the file's new size
// reached the disk before its data did.
absl::StatusOr<bool> AllZeroFrom(SegmentFile& file, uint64_t from) {
  for (uint64_t pos = from; pos < file.size();) {
    const size_t length =
        static_cast<size_t>(std::min<uint64_t>(kReadBlockBytes, file.size() - pos));
    absl::StatusOr<std::string_view> block = file.Read(pos, length);
    if (!block.ok()) return block.status();
    if (block->empty()) break;  // the file shrank: what is left was all zero
    if (std::any_of(block->begin(), block->end(), [](char c) { return c != 0; })) return false;
    pos += block->size();
  }
  return true;
}

// Parses the frame at `offset`. A bad frame can be a torn tail only where a crash mid-append
// could have left it: cut short by the end of the file, a checksum mismatch in a frame that
// ends exactly at the end of the file, or zeros up to the end. With `may_be_tail` (the last
// segment) those are kTorn; every other bad frame, and any bad frame with `may_be_tail`
// false, is kCorrupt. The rules look only at lengths and zeros, never at what the bytes
// after a bad frame might mean, so a document whose text happens to contain a frame cannot
// turn a torn tail into corruption.
absl::StatusOr<Frame> ReadFrame(SegmentFile& file, uint64_t offset, bool may_be_tail) {
  Frame frame;
  const uint64_t size = file.size();
  if (offset == size) return frame;  // kEnd

  const uint64_t remaining = size - offset;
  std::string problem;
  bool tail_shaped = false;
  if (remaining < kFrameHeaderBytes) {
    problem = absl::StrCat("incomplete frame header (", remaining, " bytes)");
    tail_shaped = true;
  } else {
    absl::StatusOr<std::string_view> header = file.Read(offset, kFrameHeaderBytes);
    if (!header.ok()) return header.status();
    if (header->size() < kFrameHeaderBytes) {
      problem = "incomplete frame header (the file shrank)";
      tail_shaped = true;
    } else {
      const uint64_t length = LoadU32(header->data());
      const uint32_t crc = LoadU32(header->data() + 4);
      const bool past_end = kFrameHeaderBytes + length > remaining;
      if (length < kMinPayloadBytes || length > kMaxPayloadBytes) {
        problem = absl::StrCat("bad payload length ", length);
        tail_shaped = past_end;
        if (!tail_shaped) {
          absl::StatusOr<bool> zeros = AllZeroFrom(file, offset);
          if (!zeros.ok()) return zeros.status();
          tail_shaped = *zeros;
        }
      } else if (past_end) {
        problem = absl::StrCat("frame of ", length, " bytes extends past the end of the file");
        tail_shaped = true;
      } else {
        absl::StatusOr<std::string_view> payload =
            file.Read(offset + kFrameHeaderBytes, static_cast<size_t>(length));
        if (!payload.ok()) return payload.status();
        if (payload->size() < length) {
          problem = "incomplete payload (the file shrank)";
          tail_shaped = true;
        } else if (Crc32(*payload) != crc) {
          problem = "checksum mismatch";
          tail_shaped = kFrameHeaderBytes + length == remaining;
        } else {
          frame.kind = FrameKind::kRecord;
          frame.payload = *payload;
          frame.next = offset + kFrameHeaderBytes + length;
          return frame;
        }
      }
    }
  }
  frame.kind = may_be_tail && tail_shaped ? FrameKind::kTorn : FrameKind::kCorrupt;
  frame.problem = absl::StrCat(problem, " at offset ", offset, " of ", file.path());
  return frame;
}

absl::Status CorruptFrameError(const Frame& frame) {
  return absl::DataLossError(absl::StrCat("corrupt ingest log frame: ", frame.problem));
}

// Holds the log's cross-process lock for one append.
class FileLock {
 public:
  static absl::StatusOr<FileLock> Acquire(int fd, const std::string& path) {
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) return SyscallError("flock", path, errno);
    }
    return FileLock(fd);
  }
  FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() {
    if (fd_ >= 0) ::flock(fd_, LOCK_UN);
  }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

// Rejects what DecodeLogRecord would reject, so that a bad record from a caller fails its own
// append instead of becoming a corrupt frame that stops every reader of the log.
absl::Status ValidateRecord(const LogRecord& record) {
  if (record.type != LogRecord::Type::kUpsert && record.type != LogRecord::Type::kDelete) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown log record type ", static_cast<int>(record.type)));
  }
  if (record.type == LogRecord::Type::kDelete) return absl::OkStatus();
  for (const StoredDocument& doc : record.documents) {
    if (doc.text.size() > std::numeric_limits<uint32_t>::max()) {
      return absl::InvalidArgumentError(absl::StrCat("document ", doc.id, ": text too long"));
    }
    for (const StoredChunk& chunk : doc.chunks) {
      if (chunk.start > chunk.end || chunk.end > doc.text.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("document ", doc.id, ": chunk range [", chunk.start, ", ", chunk.end,
                         ") outside its text of ", doc.text.size(), " bytes"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

// What a writer knows about the log between appends. Everything in it is re-checked under
// the flock before it is trusted, because other processes append to the same files.
struct IngestLogWriter::State {
  std::string directory;
  IngestLogOptions options;
  std::string lock_path;
  ScopedFd lock_fd;
  // The last segment as of this writer's previous append, and how much of it is known to be
  // complete frames (0 when no segment is open).
  uint64_t segment = 0;
  std::string segment_path;
  ScopedFd segment_fd;
  uint64_t validated = 0;

  absl::Status RemoveTempFiles(const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      std::string path = JoinPath(directory, name);
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return SyscallError("unlink", path, errno);
      }
    }
    return absl::OkStatus();
  }

  // Creates segment `number` atomically: the header goes into a temporary file that is
  // renamed into place, so that no reader or writer ever sees a segment without a header.
  absl::Status CreateSegment(uint64_t number) {
    const std::string path = JoinPath(directory, SegmentName(number));
    const std::string temp_path = path + ".tmp";
    {
      absl::StatusOr<ScopedFd> fd = OpenFile(temp_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (!fd.ok()) return fd.status();
      if (absl::Status s = PwriteFully(fd->get(), temp_path, 0, SegmentHeader()); !s.ok()) {
        return s;
      }
      if (options.sync) {
        if (absl::Status s = FsyncFd(fd->get(), temp_path); !s.ok()) return s;
      }
    }
    // Under the flock nobody else creates segments; NOREPLACE still keeps a stray process
    // from losing a segment's records, where the filesystem supports it.
    if (::renameat2(AT_FDCWD, temp_path.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
      if (errno != EINVAL && errno != ENOSYS) return SyscallError("rename", temp_path, errno);
      if (::rename(temp_path.c_str(), path.c_str()) != 0) {
        return SyscallError("rename", temp_path, errno);
      }
    }
    if (options.sync) return SyncDirectory(directory);
    return absl::OkStatus();
  }

  absl::Status OpenSegment(uint64_t number) {
    segment_fd.Reset();
    validated = 0;
    segment = number;
    segment_path = JoinPath(directory, SegmentName(number));
    absl::StatusOr<ScopedFd> fd = OpenFile(segment_path, O_RDWR);
    if (!fd.ok()) return fd.status();
    absl::StatusOr<struct stat> st = Fstat(fd->get(), segment_path);
    if (!st.ok()) return st.status();
    SegmentFile file(fd->get(), segment_path, static_cast<uint64_t>(st->st_size));
    if (absl::Status s = CheckSegmentHeader(file); !s.ok()) return s;
    segment_fd = *std::move(fd);
    validated = kSegmentHeaderBytes;
    return absl::OkStatus();
  }

  // Finds the last segment, creating the first one in an empty log.
  absl::Status FindLastSegment() {
    absl::StatusOr<DirectoryListing> listing = ListDirectory(directory);
    if (!listing.ok()) return listing.status();
    if (absl::Status s = RemoveTempFiles(listing->temp_files); !s.ok()) return s;
    if (listing->segments.empty()) {
      if (absl::Status s = CreateSegment(1); !s.ok()) return s;
      return OpenSegment(1);
    }
    return OpenSegment(listing->segments.back());
  }

  // Makes segment_fd the log's last segment and returns its current size. The cached segment
  // stays valid unless another process rolled past it (the next number exists) or it was
  // removed; checking that costs a stat, not a directory scan.
  absl::StatusOr<uint64_t> RefreshLastSegment() {
    if (segment_fd.valid()) {
      const std::string next_path = JoinPath(directory, SegmentName(segment + 1));
      struct stat next_st;
      bool stale = ::stat(next_path.c_str(), &next_st) == 0;
      if (!stale && errno != ENOENT) return SyscallError("stat", next_path, errno);
      if (!stale) {
        absl::StatusOr<struct stat> st = Fstat(segment_fd.get(), segment_path);
        if (!st.ok()) return st.status();
        if (st->st_nlink > 0) return static_cast<uint64_t>(st->st_size);
      }
      segment_fd.Reset();
    }
    if (absl::Status s = FindLastSegment(); !s.ok()) return s;
    absl::StatusOr<struct stat> st = Fstat(segment_fd.get(), segment_path);
    if (!st.ok()) return st.status();
    return static_cast<uint64_t>(st->st_size);
  }

  // Brings `validated` up to the end of the segment: frames other processes appended are
  // checked, and a torn tail left by a crashed appender is cut off so that the next frame
  // starts on a frame boundary.
  absl::Status ValidateTail(uint64_t size) {
    if (size < kSegmentHeaderBytes) {
      return absl::DataLossError(
          absl::StrCat("ingest log segment ", segment_path, " shrank below its header"));
    }
    if (size < validated) validated = kSegmentHeaderBytes;  // shrank: trust nothing
    if (size == validated) return absl::OkStatus();
    SegmentFile file(segment_fd.get(), segment_path, size);
    uint64_t offset = validated;
    for (;;) {
      absl::StatusOr<Frame> frame = ReadFrame(file, offset, /*may_be_tail=*/true);
      if (!frame.ok()) return frame.status();
      switch (frame->kind) {
        case FrameKind::kRecord:
          offset = frame->next;
          validated = offset;
          continue;
        case FrameKind::kEnd:
          validated = offset;
          return absl::OkStatus();
        case FrameKind::kTorn:
          if (::ftruncate(segment_fd.get(), static_cast<off_t>(offset)) != 0) {
            return SyscallError("ftruncate", segment_path, errno);
          }
          validated = offset;
          return absl::OkStatus();
        case FrameKind::kCorrupt:
          return absl::DataLossError(absl::StrCat(
              "refusing to append after a corrupt ingest log frame: ", frame->problem));
      }
    }
  }

  absl::StatusOr<LogPosition> AppendFrame(std::string_view frame) {
    absl::StatusOr<FileLock> lock = FileLock::Acquire(lock_fd.get(), lock_path);
    if (!lock.ok()) return lock.status();
    absl::StatusOr<uint64_t> size = RefreshLastSegment();
    if (!size.ok()) return size.status();
    if (absl::Status s = ValidateTail(*size); !s.ok()) return s;

    if (validated > kSegmentHeaderBytes && validated > options.max_segment_bytes) {
      if (absl::Status s = CreateSegment(segment + 1); !s.ok()) return s;
      if (absl::Status s = OpenSegment(segment + 1); !s.ok()) return s;
    }

    const uint64_t offset = validated;
    if (absl::Status s = PwriteFully(segment_fd.get(), segment_path, offset, frame); !s.ok()) {
      // Best effort: if this fails, the next append finds the partial frame and cuts it off.
      [[maybe_unused]] int ignored = ::ftruncate(segment_fd.get(), static_cast<off_t>(offset));
      return s;
    }
    validated = offset + frame.size();
    if (options.sync && ::fdatasync(segment_fd.get()) != 0) {
      // The frame stays: readers may already have applied it, and a client that retries the
      // failed call re-applies an idempotent upsert or delete.
      return SyscallError("fdatasync", segment_path, errno);
    }
    return LogPosition{segment, validated};
  }
};

absl::StatusOr<std::unique_ptr<IngestLogWriter>> IngestLogWriter::Open(
    const std::string& directory, const IngestLogOptions& options) {
  if (directory.empty()) return absl::InvalidArgumentError("ingest log directory is empty");
  if (absl::Status s = CreateDirectories(directory, options.sync); !s.ok()) return s;
  auto state = std::make_unique<State>();
  state->directory = directory;
  state->options = options;
  state->lock_path = JoinPath(directory, kLockFileName);
  absl::StatusOr<ScopedFd> lock_fd = OpenFile(state->lock_path, O_RDWR | O_CREAT, 0644);
  if (!lock_fd.ok()) return lock_fd.status();
  state->lock_fd = *std::move(lock_fd);
  std::unique_ptr<IngestLogWriter> writer(new IngestLogWriter());
  writer->state_ = std::move(state);
  return writer;
}

IngestLogWriter::~IngestLogWriter() = default;

absl::StatusOr<LogPosition> IngestLogWriter::Append(const LogRecord& record) {
  if (absl::Status s = ValidateRecord(record); !s.ok()) return s;
  // Encoding happens outside the locks; only the write itself is serialized.
  std::string frame(kFrameHeaderBytes, '\0');
  frame += EncodeLogRecord(record);
  const uint64_t payload_size = frame.size() - kFrameHeaderBytes;
  if (payload_size > kMaxPayloadBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "log record of ", payload_size, " bytes exceeds the limit of ", kMaxPayloadBytes));
  }
  const uint32_t length = static_cast<uint32_t>(payload_size);
  const uint32_t crc = Crc32(std::string_view(frame).substr(kFrameHeaderBytes));
  std::memcpy(frame.data(), &length, sizeof(length));
  std::memcpy(frame.data() + 4, &crc, sizeof(crc));

  absl::MutexLock lock(&mutex_);
  return state_->AppendFrame(frame);
}

absl::StatusOr<LogPosition> IngestLogReader::ReadFrom(
    LogPosition from,
    absl::FunctionRef<absl::Status(const LogRecord& record, LogPosition next)> visitor) {
  if (from.offset != 0 && from.offset < kSegmentHeaderBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("log position offset ", from.offset, " is inside the segment header"));
  }
  absl::StatusOr<DirectoryListing> listing = ListDirectory(directory_);
  if (!listing.ok()) {
    // No directory yet means nothing was ever appended.
    if (absl::IsNotFound(listing.status())) return from;
    return listing.status();
  }
  const std::vector<uint64_t>& segments = listing->segments;

  // Segments before the first one present were retired once their records reached a shard,
  // so a position in one of them resumes at the oldest segment still there.
  auto first = std::lower_bound(segments.begin(), segments.end(), from.segment);
  LogPosition position = from;
  for (auto it = first; it != segments.end(); ++it) {
    const uint64_t number = *it;
    if (it != first && number != *(it - 1) + 1) {
      return absl::DataLossError(
          absl::StrCat("ingest log segment ", *(it - 1) + 1, " is missing from ", directory_));
    }
    const bool last = it + 1 == segments.end();
    const std::string path = JoinPath(directory_, SegmentName(number));
    absl::StatusOr<ScopedFd> fd = OpenFile(path, O_RDONLY);
    if (!fd.ok()) return fd.status();
    absl::StatusOr<struct stat> st = Fstat(fd->get(), path);
    if (!st.ok()) return st.status();
    SegmentFile file(fd->get(), path, static_cast<uint64_t>(st->st_size));
    if (absl::Status s = CheckSegmentHeader(file); !s.ok()) return s;

    uint64_t offset = kSegmentHeaderBytes;
    if (number == from.segment && from.offset != 0) {
      offset = from.offset;
      if (offset > file.size()) {
        return absl::OutOfRangeError(absl::StrCat("log position offset ", offset,
                                                  " is past the end of ", path, " (", file.size(),
                                                  " bytes)"));
      }
    }
    for (;;) {
      absl::StatusOr<Frame> frame = ReadFrame(file, offset, /*may_be_tail=*/last);
      if (!frame.ok()) return frame.status();
      if (frame->kind == FrameKind::kEnd) break;
      if (frame->kind == FrameKind::kTorn) return position;  // a crashed or ongoing append
      if (frame->kind == FrameKind::kCorrupt) return CorruptFrameError(*frame);
      absl::StatusOr<LogRecord> record = DecodeLogRecord(frame->payload);
      if (!record.ok()) {
        return absl::DataLossError(absl::StrCat("undecodable ingest log record at offset ", offset,
                                                " of ", path, ": ", record.status().message()));
      }
      offset = frame->next;
      const LogPosition next{number, offset};
      if (absl::Status s = visitor(*record, next); !s.ok()) return s;
      position = next;
    }
  }
  return position;
}

uint64_t IngestLogDiskBytes(const std::string& directory) {
  absl::StatusOr<DirectoryListing> listing = ListDirectory(directory);
  if (!listing.ok()) return 0;
  uint64_t total = 0;
  for (uint64_t segment : listing->segments) {
    struct stat st;
    // A segment retired between the listing and the stat simply no longer counts.
    if (::stat(JoinPath(directory, SegmentName(segment)).c_str(), &st) == 0) {
      total += static_cast<uint64_t>(st.st_size);
    }
  }
  return total;
}

}  // namespace quarry
