// A whole file mapped read-only (PROT_READ, MAP_SHARED) and unmapped when the object goes.
// Shard files are immutable, so a shared mapping is safe, costs no copy, and lets every
// process on a host share one copy in the page cache. The file must not be truncated while
// mapped (reading past its new end raises SIGBUS): shards are never modified in place.
#ifndef QUARRY_INDEX_SHARD_MAPPED_FILE_H_
#define QUARRY_INDEX_SHARD_MAPPED_FILE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quarry {

class MappedFile {
 public:
  // NOT_FOUND for a missing file; other failures name the system call and the path.
  static absl::StatusOr<MappedFile> Open(const std::string& path);

  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // The file's bytes (empty for an empty file, which is not mapped).
  absl::string_view bytes() const {
    return absl::string_view(static_cast<const char*>(data_), size_);
  }
  size_t size() const { return size_; }

 private:
  MappedFile(void* data, size_t size) : data_(data), size_(size) {}
  void Unmap();

  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace quarry

#endif  // QUARRY_INDEX_SHARD_MAPPED_FILE_H_
