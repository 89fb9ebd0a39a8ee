// The credentials of the gRPC listening port: plaintext, TLS, or mutual TLS (security_options.h).
// Certificates are read once at start; rotating them means restarting the server (replicas
// roll one at a time behind the load balancer).
#ifndef QUARRY_SERVER_SECURITY_SERVER_CREDENTIALS_H_
#define QUARRY_SERVER_SECURITY_SERVER_CREDENTIALS_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>

#include "absl/status/statusor.h"
#include "server/security/security_options.h"

namespace quarry::security {

// INVALID_ARGUMENT for a half-given pair (certificate without key, client CA without TLS);
// the file's error (e.g. NOT_FOUND) when a PEM file cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsOptions& tls);

}  // namespace quarry::security

#endif  // QUARRY_SERVER_SECURITY_SERVER_CREDENTIALS_H_
