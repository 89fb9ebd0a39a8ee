// quarry-server's flags for TLS, API keys and call limits (each with its QUARRY_* variable,
// like every server flag). Kept beside the security code rather than in main.cc; linked into
// the quarry-server binary only, so the library's tests do not carry these flags.
#ifndef QUARRY_SERVER_SECURITY_SECURITY_FLAGS_H_
#define QUARRY_SERVER_SECURITY_SECURITY_FLAGS_H_

#include "server/security/security_options.h"

namespace quarry::security {

SecurityOptions SecurityOptionsFromFlags();

}  // namespace quarry::security

#endif  // QUARRY_SERVER_SECURITY_SECURITY_FLAGS_H_
