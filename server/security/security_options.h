// What an operator configures about who may call the server and how much: TLS, API keys and
// the per-call limits. Filled from flags by security_flags.cc. TLS, keys and the rate limit
// default to off; the Generate stream and deadline caps to generous bounds.
#ifndef QUARRY_SERVER_SECURITY_SECURITY_OPTIONS_H_
#define QUARRY_SERVER_SECURITY_SECURITY_OPTIONS_H_

#include <string>

#include "absl/time/time.h"

namespace quarry::security {

struct TlsOptions {
  // PEM files. Both set: the port speaks TLS only. Both empty: plaintext.
  std::string certificate_file;
  std::string private_key_file;
  // Set: mutual TLS; every client must present a certificate signed by this CA.
  std::string client_ca_file;
};

struct SecurityOptions {
  TlsOptions tls;
  // The API keys document (api_keys.h), from a file or given inline. Both empty: no keys,
  // every caller may do everything.
  std::string api_keys_file;
  std::string api_keys_json;
  // Requests a second per client (API key, or IP address without keys); 0: unlimited.
  double rate_limit_qps = 0;
  // Requests a client may make at once after being idle; 0: max(1, rate_limit_qps).
  double rate_limit_burst = 0;
  // Generate streams running at once, over all clients; 0: unlimited.
  int max_generate_streams = 64;
  // Longest a call may run, whatever deadline the client asked for; zero: no cap.
  absl::Duration max_deadline = absl::Hours(1);
};

}  // namespace quarry::security

#endif  // QUARRY_SERVER_SECURITY_SECURITY_OPTIONS_H_
