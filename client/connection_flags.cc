#include "client/connection_flags.h"

#include <cstdlib>
#include <optional>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "index/environment_flags.h"
#include "index/store/filesystem.h"

ABSL_FLAG(bool, tls, false,
          "Connect with TLS, trusting the system's CAs (implied by the other --tls_* flags; "
          "env QUARRY_TLS)");
ABSL_FLAG(std::string, tls_ca_file, "",
          "PEM CA bundle that signed the server's certificate (env QUARRY_TLS_CA_FILE)");
ABSL_FLAG(std::string, tls_client_cert_file, "",
          "PEM client certificate, for servers that require mutual TLS (env "
          "QUARRY_TLS_CLIENT_CERT_FILE)");
ABSL_FLAG(std::string, tls_client_key_file, "",
          "PEM private key of --tls_client_cert_file (env QUARRY_TLS_CLIENT_KEY_FILE)");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name to expect in the server's certificate when it differs from the address's host "
          "(env QUARRY_TLS_SERVER_NAME)");
ABSL_FLAG(std::string, api_key, "",
          "API key sent as \"authorization: Bearer KEY\" (prefer env QUARRY_API_KEY)");

namespace quarry::cli {
namespace {

// The value of flag `name`'s environment variable, or empty.
std::string Environment(absl::string_view name) {
  const char* value = std::getenv(EnvironmentVariableForFlag(name).c_str());
  return value == nullptr ? std::string() : std::string(value);
}

// The flag's value, else its environment variable's, else empty.
std::string FlagOrEnvironment(const absl::Flag<std::string>& flag, absl::string_view name) {
  std::string value = absl::GetFlag(flag);
  return value.empty() ? Environment(name) : value;
}

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view flag) {
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) {
    return absl::Status(pem.status().code(),
                        absl::StrCat("--", flag, " (or ", EnvironmentVariableForFlag(flag),
                                     "): ", pem.status().message()));
  }
  return pem;
}

}  // namespace

const std::vector<std::string>& ConnectionFlagNames() {
  static const std::vector<std::string>* const names = new std::vector<std::string>{
      "tls",    "tls_ca_file", "tls_client_cert_file", "tls_client_key_file", "tls_server_name",
      "api_key"};
  return *names;
}

absl::StatusOr<client::ClientOptions> ClientOptionsFromFlags() {
  client::ClientOptions options;
  const std::string ca_file = FlagOrEnvironment(FLAGS_tls_ca_file, "tls_ca_file");
  const std::string cert_file =
      FlagOrEnvironment(FLAGS_tls_client_cert_file, "tls_client_cert_file");
  const std::string key_file = FlagOrEnvironment(FLAGS_tls_client_key_file, "tls_client_key_file");
  const std::string server_name = FlagOrEnvironment(FLAGS_tls_server_name, "tls_server_name");
  bool tls = absl::GetFlag(FLAGS_tls);
  if (!tls) {
    const std::string environment = Environment("tls");
    std::string error;
    if (!environment.empty() && !absl::ParseFlag(environment, &tls, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("QUARRY_TLS='", environment, "': ", error));
    }
  }
  if (tls || !ca_file.empty() || !cert_file.empty() || !key_file.empty() || !server_name.empty()) {
    if (cert_file.empty() != key_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_cert_file and --tls_client_key_file go together");
    }
    client::TlsOptions& settings = options.tls.emplace();
    settings.server_name_override = server_name;
    if (!ca_file.empty()) {
      absl::StatusOr<std::string> pem = ReadPem(ca_file, "tls_ca_file");
      if (!pem.ok()) return pem.status();
      settings.root_certificates_pem = *std::move(pem);
    }
    if (!cert_file.empty()) {
      absl::StatusOr<std::string> certificate = ReadPem(cert_file, "tls_client_cert_file");
      if (!certificate.ok()) return certificate.status();
      absl::StatusOr<std::string> key = ReadPem(key_file, "tls_client_key_file");
      if (!key.ok()) return key.status();
      settings.client_certificate_pem = *std::move(certificate);
      settings.client_key_pem = *std::move(key);
    }
  }
  const std::string api_key = FlagOrEnvironment(FLAGS_api_key, "api_key");
  if (!api_key.empty())
    options.metadata.emplace_back("authorization", absl::StrCat("Bearer ", api_key));
  return options;
}

}  // namespace quarry::cli
