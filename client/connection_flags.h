// The quarry CLI's connection flags: TLS (server CA, client certificate for mutual TLS) and
// the API key. Each may also come from its environment variable (--NAME <-> QUARRY_NAME, the
// flag winning), like --address and QUARRY_ADDRESS, so that scripts need not repeat them.
#ifndef QUARRY_CLIENT_CONNECTION_FLAGS_H_
#define QUARRY_CLIENT_CONNECTION_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/quarry_client.h"

namespace quarry::cli {

// The names of the flags below, for the CLI's table of global flags.
const std::vector<std::string>& ConnectionFlagNames();

// ClientOptions from the flags and environment: the PEM files read, the key sent as
// "authorization: Bearer KEY". Errors name the flag (or variable) and the file.
absl::StatusOr<client::ClientOptions> ClientOptionsFromFlags();

}  // namespace quarry::cli

#endif  // QUARRY_CLIENT_CONNECTION_FLAGS_H_
