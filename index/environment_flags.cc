#include "index/environment_flags.h"

#include <cstdio>
#include <cstdlib>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace quarry {

std::string EnvironmentVariableForFlag(absl::string_view flag_name) {
  return absl::StrCat("QUARRY_", absl::AsciiStrToUpper(flag_name));
}

absl::Status ApplyEnvironmentToFlags() {
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    const std::string variable = EnvironmentVariableForFlag(name);
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(variable, "='", value, "': ", error));
    }
  }
  return absl::OkStatus();
}

std::vector<char*> ParseFlagsWithEnvironment(int argc, char** argv) {
  if (absl::Status status = ApplyEnvironmentToFlags(); !status.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
    std::exit(2);
  }
  return absl::ParseCommandLine(argc, argv);
}

}  // namespace quarry
