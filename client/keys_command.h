// `quarry keys new` and `quarry keys hash`: make API keys and the SHA-256 fingerprints the
// server's key file holds (server/security/api_keys.h). Keys are read from stdin, never from
// the command line, so that they stay out of shell history and process listings.
#ifndef QUARRY_CLIENT_KEYS_COMMAND_H_
#define QUARRY_CLIENT_KEYS_COMMAND_H_

#include <istream>
#include <string>

#include "absl/status/statusor.h"

namespace quarry::cli {

// The fingerprint of the one key on `input` (surrounding whitespace dropped), with a newline.
// INVALID_ARGUMENT for no key or more than one line.
absl::StatusOr<std::string> KeysHash(std::istream& input);

// A fresh key and its fingerprint, as two "label: value" lines.
absl::StatusOr<std::string> KeysNew();

}  // namespace quarry::cli

#endif  // QUARRY_CLIENT_KEYS_COMMAND_H_
