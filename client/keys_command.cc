#include "client/keys_command.h"

#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/security/api_key_hash.h"

namespace quarry::cli {

absl::StatusOr<std::string> KeysHash(std::istream& input) {
  const std::string text((std::istreambuf_iterator<char>(input)), std::istreambuf_iterator<char>());
  const absl::string_view key = absl::StripAsciiWhitespace(text);
  if (key.empty()) return absl::InvalidArgumentError("keys hash: no key on stdin");
  if (key.find_first_of("\r\n") != absl::string_view::npos) {
    return absl::InvalidArgumentError("keys hash: give one key (one line) on stdin");
  }
  return absl::StrCat(security::ApiKeyFingerprint(key), "\n");
}

absl::StatusOr<std::string> KeysNew() {
  absl::StatusOr<std::string> key = security::NewApiKey();
  if (!key.ok()) return key.status();
  return absl::StrCat("key:    ", *key, "\nsha256: ", security::ApiKeyFingerprint(*key), "\n");
}

}  // namespace quarry::cli
