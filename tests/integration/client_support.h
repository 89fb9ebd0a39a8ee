// Calling the real quarry-server through the project's own client library and the quarry CLI
// (the security and limits tests use both), and API keys made by `quarry keys new`.
#ifndef QUARRY_TESTS_INTEGRATION_CLIENT_SUPPORT_H_
#define QUARRY_TESTS_INTEGRATION_CLIENT_SUPPORT_H_

#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/quarry_client.h"
#include "tests/integration/server_process.h"

namespace quarry::testing {

using client::ClientOptions;
using client::QuarryClient;

struct CliResult {
  int exit_code = -1;
  std::string output;  // stdout
};

// Runs the quarry CLI through the shell (arguments are test-made paths and words), with
// `environment` ("NAME=value ...") set for it.
inline CliResult RunCli(const std::string& arguments, const std::string& environment = "") {
  const std::string command = environment + " " + QUARRY_CLI_BINARY + " " + arguments;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  CliResult result;
  char buffer[4096];
  size_t read = 0;
  while ((read = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, read);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

inline std::unique_ptr<QuarryClient> Connect(const ServerProcess& server,
                                             ClientOptions options = {}) {
  options.default_timeout = absl::Seconds(30);
  absl::StatusOr<std::unique_ptr<QuarryClient>> client =
      QuarryClient::Create(server.address(), std::move(options));
  REQUIRE(client.ok());
  return *std::move(client);
}

struct Key {
  std::string secret;
  std::string fingerprint;
};

// A key made by `quarry keys new`.
inline Key NewKey() {
  const CliResult made = RunCli("keys new");
  REQUIRE(made.exit_code == 0);
  Key key;
  for (absl::string_view line : absl::StrSplit(made.output, '\n')) {
    if (absl::ConsumePrefix(&line, "key:"))
      key.secret = std::string(absl::StripAsciiWhitespace(line));
    if (absl::ConsumePrefix(&line, "sha256:")) {
      key.fingerprint = std::string(absl::StripAsciiWhitespace(line));
    }
  }
  REQUIRE(key.secret.size() > 16);
  REQUIRE(key.fingerprint.size() == 64);
  return key;
}

inline std::string KeyEntry(const std::string& name, const Key& key, const std::string& role,
                            const std::string& collections) {
  return "{\"name\": \"" + name + "\", \"sha256\": \"" + key.fingerprint + "\", \"role\": \"" +
         role + "\", \"collections\": " + collections + "}";
}

inline ClientOptions WithKey(const std::string& key, const std::string& header = "authorization") {
  ClientOptions options;
  options.metadata.emplace_back(header, header == "authorization" ? "Bearer " + key : key);
  return options;
}

}  // namespace quarry::testing

#endif  // QUARRY_TESTS_INTEGRATION_CLIENT_SUPPORT_H_
