// How an API key is kept at rest: the lowercase hex SHA-256 of the key's bytes. Shared by the
// server (which compares fingerprints) and the `quarry keys` CLI (which makes them), so both
// always agree. `printf %s "$KEY" | sha256sum` gives the same fingerprint.
#ifndef QUARRY_SERVER_SECURITY_API_KEY_HASH_H_
#define QUARRY_SERVER_SECURITY_API_KEY_HASH_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quarry::security {

// 64 lowercase hex digits.
std::string ApiKeyFingerprint(absl::string_view key);

// True when `a` and `b` are equal, in time that depends only on their lengths (fingerprints
// are compared without revealing how many leading bytes matched).
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// A fresh key: "qk_" and 64 hex digits from OpenSSL's CSPRNG (256 bits).
absl::StatusOr<std::string> NewApiKey();

}  // namespace quarry::security

#endif  // QUARRY_SERVER_SECURITY_API_KEY_HASH_H_
