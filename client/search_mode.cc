#include "client/search_mode.h"

#include "absl/strings/str_cat.h"

namespace quarry::client {

absl::StatusOr<quarry::v1::SearchMode> ParseSearchMode(const std::string& mode) {
  if (mode.empty()) return quarry::v1::SEARCH_MODE_UNSPECIFIED;
  if (mode == "dense") return quarry::v1::SEARCH_MODE_DENSE;
  if (mode == "lexical") return quarry::v1::SEARCH_MODE_LEXICAL;
  if (mode == "hybrid") return quarry::v1::SEARCH_MODE_HYBRID;
  return absl::InvalidArgumentError(
      absl::StrCat("--mode must be dense, lexical or hybrid, not \"", mode, "\""));
}

}  // namespace quarry::client
