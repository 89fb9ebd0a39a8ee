#include "tests/integration/test_ca.h"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace quarry::testing {
namespace {

// Runs an openssl command line, its output into `log`; throws with the log on failure.
void OpenSsl(const std::string& arguments, const std::string& log) {
  const std::string command = "openssl " + arguments + " >>" + log + " 2>&1";
  const int status = std::system(command.c_str());
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("openssl failed: " + command + "\n" + ReadTextFile(log));
  }
}

// An EC P-256 key: fast to make, and what gRPC's TLS handles everywhere.
constexpr char kNewKey[] = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

}  // namespace

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteTextFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  if (!out) throw std::runtime_error("cannot write " + path);
}

TestCa::TestCa(const TempDir& directory, const std::string& name) : directory_(directory) {
  ca_.certificate = directory.Join(name + ".pem");
  ca_.key = directory.Join(name + ".key");
  OpenSsl(std::string("req -x509 ") + kNewKey + " -days 2 -subj '/CN=" + name + "' -keyout " +
              ca_.key + " -out " + ca_.certificate +
              " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign",
          directory.Join("openssl.log"));
}

CertificateFiles TestCa::Issue(const std::string& name, const std::string& extensions) const {
  CertificateFiles files{directory_.Join(name + ".pem"), directory_.Join(name + ".key")};
  const std::string request = directory_.Join(name + ".csr");
  const std::string extension_file = directory_.Join(name + ".ext");
  const std::string log = directory_.Join("openssl.log");
  WriteTextFile(extension_file, extensions);
  OpenSsl(std::string("req ") + kNewKey + " -subj '/CN=" + name + "' -keyout " + files.key +
              " -out " + request,
          log);
  OpenSsl("x509 -req -days 2 -in " + request + " -CA " + ca_.certificate + " -CAkey " + ca_.key +
              " -CAcreateserial -extfile " + extension_file + " -out " + files.certificate,
          log);
  return files;
}

CertificateFiles TestCa::IssueServer(const std::string& name) const {
  return Issue(name,
               "basicConstraints=CA:FALSE\n"
               "keyUsage=digitalSignature,keyEncipherment\n"
               "extendedKeyUsage=serverAuth\n"
               "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
}

CertificateFiles TestCa::IssueClient(const std::string& name) const {
  return Issue(name,
               "basicConstraints=CA:FALSE\n"
               "keyUsage=digitalSignature,keyEncipherment\n"
               "extendedKeyUsage=clientAuth\n");
}

}  // namespace quarry::testing
