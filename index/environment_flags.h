// Flags with environment-variable equivalents: every flag NAME of a binary can also be set as
// QUARRY_<NAME in upper case> (e.g. --data_dir and QUARRY_DATA_DIR). The command line wins
// over the environment, which wins over the default. Shared by quarry-server, quarry-indexer
// and the quarry CLI so the rule is the same everywhere.
#ifndef QUARRY_INDEX_ENVIRONMENT_FLAGS_H_
#define QUARRY_INDEX_ENVIRONMENT_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace quarry {

// The environment variable for a flag name.
std::string EnvironmentVariableForFlag(absl::string_view flag_name);

// Sets each flag whose QUARRY_* variable is present. Call before absl::ParseCommandLine.
// INVALID_ARGUMENT naming the variable when a value does not parse.
absl::Status ApplyEnvironmentToFlags();

// Parses the environment, then the command line; exits with a message on errors.
// Returns the positional arguments (argv[0] first).
std::vector<char*> ParseFlagsWithEnvironment(int argc, char** argv);

}  // namespace quarry

#endif  // QUARRY_INDEX_ENVIRONMENT_FLAGS_H_
