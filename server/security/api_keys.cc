#include "server/security/api_keys.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/security/api_key_hash.h"

namespace quarry::security {
namespace {

using nlohmann::json;

bool IsFingerprint(absl::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::StatusOr<ApiKey> ParseKey(const json& entry, const std::string& where) {
  if (!entry.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, ": not an object"));
  for (const auto& [field, value] : entry.items()) {
    if (field != "name" && field != "sha256" && field != "role" && field != "collections") {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": unknown field \"", field, "\" (fields: name, sha256, role, collections)"));
    }
  }
  ApiKey key;
  const auto name = entry.find("name");
  if (name == entry.end() || !name->is_string() || name->get<std::string>().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": \"name\" must be a non-empty string"));
  }
  key.name = name->get<std::string>();
  const std::string named = absl::StrCat(where, " (\"", key.name, "\")");

  const auto fingerprint = entry.find("sha256");
  if (fingerprint == entry.end() || !fingerprint->is_string() ||
      !IsFingerprint(fingerprint->get<std::string>())) {
    return absl::InvalidArgumentError(absl::StrCat(
        named, ": \"sha256\" must be the 64 hex digits of the key's SHA-256 (quarry keys hash)"));
  }
  key.fingerprint = absl::AsciiStrToLower(fingerprint->get<std::string>());

  const auto role = entry.find("role");
  const std::string role_name =
      role != entry.end() && role->is_string() ? role->get<std::string>() : std::string();
  if (role_name != "read" && role_name != "readwrite") {
    return absl::InvalidArgumentError(
        absl::StrCat(named, ": \"role\" must be \"read\" or \"readwrite\""));
  }
  key.can_write = role_name == "readwrite";

  const auto collections = entry.find("collections");
  if (collections == entry.end() || !collections->is_array() || collections->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        named, ": \"collections\" must be a non-empty list of names, or [\"*\"] for all"));
  }
  for (const json& collection : *collections) {
    if (!collection.is_string() || collection.get<std::string>().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(named, ": \"collections\" holds something other than a name"));
    }
    const std::string collection_name = collection.get<std::string>();
    if (collection_name == "*") {
      key.all_collections = true;
    } else {
      key.collections.insert(collection_name);
    }
  }
  return key;
}

}  // namespace

absl::StatusOr<ApiKeyRing> ApiKeyRing::Parse(absl::string_view text, absl::string_view source) {
  const json document = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON"));
  }
  const auto keys = document.is_object() ? document.find("keys") : document.end();
  if (!document.is_object() || document.size() != 1 || keys == document.end() ||
      !keys->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected {\"keys\": [...]}, one object per key"));
  }
  if (keys->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": no keys (leave API keys unset to turn authentication off)"));
  }
  ApiKeyRing ring;
  absl::flat_hash_set<std::string> names;
  absl::flat_hash_set<std::string> fingerprints;
  for (size_t i = 0; i < keys->size(); ++i) {
    absl::StatusOr<ApiKey> key = ParseKey((*keys)[i], absl::StrCat(source, ": keys[", i, "]"));
    if (!key.ok()) return key.status();
    if (!names.insert(key->name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": keys[", i, "]: the name \"", key->name, "\" is used twice"));
    }
    if (!fingerprints.insert(key->fingerprint).second) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": keys[", i, "] (\"", key->name,
                                                     "\"): the same key is listed twice"));
    }
    ring.keys_.push_back(*std::move(key));
  }
  return ring;
}

const ApiKey* ApiKeyRing::Find(absl::string_view presented) const {
  const std::string fingerprint = ApiKeyFingerprint(presented);
  const ApiKey* found = nullptr;
  for (const ApiKey& key : keys_) {
    if (ConstantTimeEquals(key.fingerprint, fingerprint)) found = &key;
  }
  return found;
}

}  // namespace quarry::security
