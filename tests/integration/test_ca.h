// Certificates for the TLS tests, made at test time with Debian's openssl binary in a
// temporary directory: a CA, a server certificate it signs (for 127.0.0.1 and localhost), and
// client certificates. Nothing is checked in, so nothing expires in the repository.
#ifndef QUARRY_TESTS_INTEGRATION_TEST_CA_H_
#define QUARRY_TESTS_INTEGRATION_TEST_CA_H_

#include <string>

#include "tests/integration/server_process.h"

namespace quarry::testing {

// A certificate and its private key, as PEM files.
struct CertificateFiles {
  std::string certificate;
  std::string key;
};

class TestCa {
 public:
  // Makes the CA's key and self-signed certificate under `directory`/`name`.*.
  // Throws std::runtime_error with openssl's output if openssl fails.
  TestCa(const TempDir& directory, const std::string& name);

  const std::string& certificate_file() const { return ca_.certificate; }

  // A leaf certificate signed by this CA: for a server (subjectAltName IP:127.0.0.1 and
  // DNS:localhost, serverAuth) or for a client (clientAuth).
  CertificateFiles IssueServer(const std::string& name) const;
  CertificateFiles IssueClient(const std::string& name) const;

 private:
  CertificateFiles Issue(const std::string& name, const std::string& extensions) const;

  const TempDir& directory_;
  CertificateFiles ca_;
};

// The whole file, for ClientOptions' PEM fields. Throws if it cannot be read.
std::string ReadTextFile(const std::string& path);
// Writes `contents` to `path`. Throws on failure.
void WriteTextFile(const std::string& path, const std::string& contents);

}  // namespace quarry::testing

#endif  // QUARRY_TESTS_INTEGRATION_TEST_CA_H_
