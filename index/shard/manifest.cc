#include "index/shard/manifest.h"

#include <zlib.h>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "index/store/filesystem.h"

namespace quarry {
namespace {

constexpr char kManifestFileName[] = "MANIFEST";
constexpr int kManifestFormatVersion = 1;
// The file is "<json body>\n" followed by "crc32 <8 hex digits>\n" over the body.
constexpr absl::string_view kChecksumPrefix = "crc32 ";

uint32_t Crc32(absl::string_view bytes) {
  return static_cast<uint32_t>(
      crc32_z(0L, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

bool IsUnsigned(const nlohmann::json& json, const char* key) {
  return json.contains(key) && json[key].is_number_unsigned();
}

bool IsInteger(const nlohmann::json& json, const char* key) {
  return json.contains(key) && json[key].is_number_integer();
}

bool IsString(const nlohmann::json& json, const char* key) {
  return json.contains(key) && json[key].is_string();
}

}  // namespace

std::string ManifestPath(const std::string& collection_directory) {
  return absl::StrCat(collection_directory, "/", kManifestFileName);
}

std::string EncodeManifest(const Manifest& manifest) {
  nlohmann::json shards = nlohmann::json::array();
  for (const ManifestShard& shard : manifest.shards) {
    shards.push_back({{"id", shard.id}, {"documents", shard.documents}, {"chunks", shard.chunks}});
  }
  nlohmann::json tombstones = nlohmann::json::object();
  for (const auto& [shard_id, ids] : manifest.tombstones) tombstones[shard_id] = ids;
  const nlohmann::json body = {
      {"format_version", kManifestFormatVersion},
      {"generation", manifest.generation},
      {"shards", shards},
      {"tombstones", tombstones},
      {"log_position",
       {{"segment", manifest.log_position.segment}, {"offset", manifest.log_position.offset}}},
  };
  const std::string text = body.dump(1);
  return absl::StrCat(text, "\n", kChecksumPrefix, absl::StrFormat("%08x", Crc32(text)), "\n");
}

absl::StatusOr<Manifest> DecodeManifest(absl::string_view text) {
  const size_t split = text.rfind(absl::StrCat("\n", kChecksumPrefix));
  if (split == absl::string_view::npos) return absl::DataLossError("manifest has no checksum");
  const absl::string_view body = text.substr(0, split);
  absl::string_view checksum = text.substr(split + 1 + kChecksumPrefix.size());
  if (!checksum.empty() && checksum.back() == '\n') checksum.remove_suffix(1);
  uint32_t expected = 0;
  if (!absl::SimpleHexAtoi(checksum, &expected) || expected != Crc32(body)) {
    return absl::DataLossError("manifest checksum mismatch");
  }
  const nlohmann::json json =
      nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::DataLossError("manifest is not a JSON object");
  }
  if (!IsInteger(json, "format_version") ||
      json["format_version"].get<int>() != kManifestFormatVersion) {
    return absl::DataLossError("manifest has an unknown format_version");
  }
  Manifest manifest;
  if (!IsUnsigned(json, "generation") || !json.contains("log_position") ||
      !IsUnsigned(json["log_position"], "segment") || !IsUnsigned(json["log_position"], "offset") ||
      !json.contains("shards") || !json["shards"].is_array() || !json.contains("tombstones") ||
      !json["tombstones"].is_object()) {
    return absl::DataLossError("manifest lacks a required field");
  }
  manifest.generation = json["generation"].get<uint64_t>();
  manifest.log_position.segment = json["log_position"]["segment"].get<uint64_t>();
  manifest.log_position.offset = json["log_position"]["offset"].get<uint64_t>();
  for (const nlohmann::json& shard : json["shards"]) {
    if (!IsString(shard, "id") || !IsInteger(shard, "documents") || !IsInteger(shard, "chunks")) {
      return absl::DataLossError("manifest has a malformed shard entry");
    }
    manifest.shards.push_back({shard["id"].get<std::string>(), shard["documents"].get<int64_t>(),
                               shard["chunks"].get<int64_t>()});
  }
  for (const auto& [shard_id, ids] : json["tombstones"].items()) {
    if (!ids.is_array()) return absl::DataLossError("manifest has malformed tombstones");
    std::vector<std::string>& out = manifest.tombstones[shard_id];
    for (const nlohmann::json& id : ids) {
      if (!id.is_string()) return absl::DataLossError("manifest has a malformed tombstone");
      out.push_back(id.get<std::string>());
    }
  }
  return manifest;
}

absl::StatusOr<Manifest> ReadManifest(const std::string& collection_directory) {
  const std::string path = ManifestPath(collection_directory);
  absl::StatusOr<std::string> text = ReadFile(path);
  if (absl::IsNotFound(text.status())) return Manifest{};
  if (!text.ok()) return text.status();
  absl::StatusOr<Manifest> manifest = DecodeManifest(*text);
  if (!manifest.ok()) {
    return absl::DataLossError(absl::StrCat(path, ": ", manifest.status().message()));
  }
  return manifest;
}

absl::Status PublishManifest(const std::string& collection_directory, const Manifest& manifest) {
  return WriteFileAtomically(ManifestPath(collection_directory), EncodeManifest(manifest));
}

absl::Status RemoveAbandonedManifestFiles(const std::string& collection_directory) {
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(collection_directory);
  if (!names.ok()) return names.status();
  // WriteFileAtomically writes "<path>.tmp.<pid>" and renames it over <path>.
  const std::string prefix = absl::StrCat(kManifestFileName, ".tmp.");
  for (const std::string& name : *names) {
    if (absl::StartsWith(name, prefix)) {
      if (absl::Status status = RemoveAll(absl::StrCat(collection_directory, "/", name));
          !status.ok()) {
        return status;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace quarry
