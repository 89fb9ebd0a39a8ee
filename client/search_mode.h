// The CLI's spelling of quarry.v1.SearchMode (--mode dense|lexical|hybrid), shared by the
// search/ask subcommands and `quarry bench search-text`.
#ifndef QUARRY_CLIENT_SEARCH_MODE_H_
#define QUARRY_CLIENT_SEARCH_MODE_H_

#include <string>

#include "absl/status/statusor.h"
#include "quarry/v1/quarry.pb.h"

namespace quarry::client {

// "" is the server's default; INVALID_ARGUMENT for anything else than dense, lexical, hybrid.
absl::StatusOr<quarry::v1::SearchMode> ParseSearchMode(const std::string& mode);

}  // namespace quarry::client

#endif  // QUARRY_CLIENT_SEARCH_MODE_H_
