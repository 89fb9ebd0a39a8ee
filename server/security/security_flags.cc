#include "server/security/security_flags.h"

#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain of the gRPC port; with --tls_key_file the port speaks TLS only "
          "(empty: plaintext)");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key for --tls_cert_file");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle: clients must present a certificate it signed (mutual TLS; empty: "
          "no client certificates)");
ABSL_FLAG(std::string, api_keys_file, "",
          "JSON file of API key fingerprints, roles and collections (empty: no keys, every "
          "caller may do everything)");
ABSL_FLAG(std::string, api_keys, "",
          "The same JSON document inline (prefer the QUARRY_API_KEYS variable); not with "
          "--api_keys_file");
ABSL_FLAG(double, rate_limit_qps, 0,
          "Requests a second per API key (per client IP without keys); RESOURCE_EXHAUSTED "
          "beyond (0: unlimited)");
ABSL_FLAG(double, rate_limit_burst, 0,
          "Requests a client may make at once after being idle (0: max(1, rate_limit_qps))");
ABSL_FLAG(int, max_generate_streams, 64,
          "Generate streams running at once; more get RESOURCE_EXHAUSTED (0: unlimited)");
ABSL_FLAG(int, max_deadline_seconds, 3600,
          "Longest any call may run, whatever deadline the client set (none counts as "
          "infinite); DEADLINE_EXCEEDED after it (0: no cap)");

namespace quarry::security {

SecurityOptions SecurityOptionsFromFlags() {
  SecurityOptions options;
  options.tls.certificate_file = absl::GetFlag(FLAGS_tls_cert_file);
  options.tls.private_key_file = absl::GetFlag(FLAGS_tls_key_file);
  options.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  options.api_keys_file = absl::GetFlag(FLAGS_api_keys_file);
  options.api_keys_json = absl::GetFlag(FLAGS_api_keys);
  options.rate_limit_qps = absl::GetFlag(FLAGS_rate_limit_qps);
  options.rate_limit_burst = absl::GetFlag(FLAGS_rate_limit_burst);
  options.max_generate_streams = absl::GetFlag(FLAGS_max_generate_streams);
  options.max_deadline = absl::Seconds(absl::GetFlag(FLAGS_max_deadline_seconds));
  return options;
}

}  // namespace quarry::security
