// Small, durable filesystem operations on top of POSIX, returning absl::Status.
// "Durable" means the change survives a crash once the call returns: data and the directory
// entry are both fsync'd.
#ifndef QUARRY_INDEX_STORE_FILESYSTEM_H_
#define QUARRY_INDEX_STORE_FILESYSTEM_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quarry {

// Writes `contents` to `path` atomically: a temporary file in the same directory, fsync,
// rename over `path`, fsync of the directory. Readers see the old or the new file, never a mix.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

absl::StatusOr<std::string> ReadFile(const std::string& path);

// mkdir -p, then fsync of the parent so the new entry is durable.
absl::Status CreateDirectories(const std::string& path);

// Renames `from` to `to`, failing with ALREADY_EXISTS if `to` exists (renameat2
// RENAME_NOREPLACE), then fsyncs the parent directory.
absl::Status RenameNoReplace(const std::string& from, const std::string& to);

absl::Status SyncDirectory(const std::string& path);

// Removes a file or a directory tree; a missing path is OK.
absl::Status RemoveAll(const std::string& path);

// Names of the entries of a directory (not "." or ".."), sorted.
absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& path);

// A status for a failed system call: the call, the path and strerror(errno).
absl::Status ErrnoStatus(absl::string_view operation, absl::string_view path, int error_number);

}  // namespace quarry

#endif  // QUARRY_INDEX_STORE_FILESYSTEM_H_
