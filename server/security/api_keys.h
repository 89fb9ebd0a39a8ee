// The API keys a server accepts, as an operator writes them: a JSON document holding only the
// keys' SHA-256 fingerprints (see api_key_hash.h), never the keys themselves.
//
//   {"keys": [
//     {"name": "web", "sha256": "9f86d0…", "role": "read", "collections": ["*"]},
//     {"name": "loader", "sha256": "60303a…", "role": "readwrite", "collections": ["docs"]}
//   ]}
//
// role: "read" (search, generate, get) or "readwrite" (also ingest, delete, create and delete
// collections). collections: names the key may touch, or "*" for all of them.
#ifndef QUARRY_SERVER_SECURITY_API_KEYS_H_
#define QUARRY_SERVER_SECURITY_API_KEYS_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quarry::security {

enum class Access { kRead, kWrite };

struct ApiKey {
  std::string name;
  std::string fingerprint;  // lowercase hex SHA-256 of the key
  bool can_write = false;
  bool all_collections = false;
  absl::flat_hash_set<std::string> collections;

  bool MaySee(absl::string_view collection) const {
    return all_collections || collections.contains(collection);
  }
  bool Allows(Access access, absl::string_view collection) const {
    return (access == Access::kRead || can_write) && MaySee(collection);
  }
};

class ApiKeyRing {
 public:
  // INVALID_ARGUMENT naming `source` and the entry for anything malformed: unknown fields,
  // a fingerprint that is not 64 hex digits, an unknown role, an empty collection list,
  // duplicate names or fingerprints, no keys at all.
  static absl::StatusOr<ApiKeyRing> Parse(absl::string_view json, absl::string_view source);

  // The key whose fingerprint matches `presented`, or nullptr. Every fingerprint is compared,
  // in constant time, whether or not an earlier one matched.
  const ApiKey* Find(absl::string_view presented) const;

  const std::vector<ApiKey>& keys() const { return keys_; }

 private:
  std::vector<ApiKey> keys_;
};

}  // namespace quarry::security

#endif  // QUARRY_SERVER_SECURITY_API_KEYS_H_
