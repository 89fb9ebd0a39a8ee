// TLS, mutual TLS and API keys against the real quarry-server process, called through the
// project's client library and the quarry CLI. Certificates come from a CA made at test time
// (test_ca.h); keys from `quarry keys new`.
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/client_support.h"
#include "tests/integration/test_ca.h"
#include "tests/integration/test_support.h"

namespace quarry::testing {
namespace {

using client::TlsOptions;

ClientOptions TrustingCa(const TestCa& ca) {
  ClientOptions options;
  options.tls = TlsOptions{.root_certificates_pem = ReadTextFile(ca.certificate_file()),
                           .client_certificate_pem = "",
                           .client_key_pem = "",
                           .server_name_override = ""};
  return options;
}

ClientOptions WithClientCertificate(const TestCa& ca, const CertificateFiles& certificate) {
  ClientOptions options = TrustingCa(ca);
  options.tls->client_certificate_pem = ReadTextFile(certificate.certificate);
  options.tls->client_key_pem = ReadTextFile(certificate.key);
  return options;
}

absl::StatusCode CreateCode(QuarryClient& client, const std::string& name) {
  v1::CreateCollectionRequest request;
  request.set_name(name);
  return client.CreateCollection(request).status().code();
}

// Fixture: a temp dir holding the test CA, the server's certificate, and another CA.
struct TlsFixture {
  TempDir pki{"quarry-pki"};
  TestCa ca{pki, "quarry-test-ca"};
  TestCa other_ca{pki, "other-ca"};
  CertificateFiles server_certificate = ca.IssueServer("server");
};

TEST_CASE_METHOD(TlsFixture,
                 "TLS: a client trusting the CA connects; plaintext and untrusting "
                 "clients are refused",
                 "[security][tls]") {
  TestServer server({"--tls_cert_file=" + server_certificate.certificate,
                     "--tls_key_file=" + server_certificate.key});

  std::unique_ptr<QuarryClient> trusting = Connect(server.process(), TrustingCa(ca));
  absl::StatusOr<bool> healthy = trusting->Healthy();
  INFO(healthy.status().ToString());
  REQUIRE(healthy.ok());
  CHECK(*healthy);
  CHECK(CreateCode(*trusting, "docs") == absl::StatusCode::kOk);

  // The name the certificate carries works as well as the address's IP.
  ClientOptions by_name = TrustingCa(ca);
  by_name.tls->server_name_override = "localhost";
  CHECK(Connect(server.process(), by_name)->Healthy().ok());

  std::unique_ptr<QuarryClient> plaintext = Connect(server.process());
  CHECK(plaintext->Healthy().status().code() == absl::StatusCode::kUnavailable);
  CHECK(CreateCode(*plaintext, "other") == absl::StatusCode::kUnavailable);

  std::unique_ptr<QuarryClient> untrusting = Connect(server.process(), TrustingCa(other_ca));
  CHECK(untrusting->Healthy().status().code() == absl::StatusCode::kUnavailable);

  // The CLI over TLS, its CA from a flag and then from the environment.
  const std::string address = "--address=" + server->address();
  CliResult listed =
      RunCli(address + " --tls_ca_file=" + ca.certificate_file() + " collections list");
  CHECK(listed.exit_code == 0);
  CHECK(listed.output.find("docs") != std::string::npos);
  CHECK(RunCli(address + " health", "QUARRY_TLS_CA_FILE=" + ca.certificate_file()).exit_code == 0);
  CHECK(RunCli(address + " health 2>/dev/null").exit_code == 1);
}

TEST_CASE_METHOD(TlsFixture,
                 "mutual TLS: only clients with a certificate from the client CA "
                 "are served",
                 "[security][tls]") {
  const CertificateFiles good_client = ca.IssueClient("client");
  const CertificateFiles foreign_client = other_ca.IssueClient("foreign-client");
  TestServer server({"--tls_cert_file=" + server_certificate.certificate,
                     "--tls_key_file=" + server_certificate.key,
                     "--tls_client_ca_file=" + ca.certificate_file()});

  std::unique_ptr<QuarryClient> no_certificate = Connect(server.process(), TrustingCa(ca));
  CHECK(no_certificate->Healthy().status().code() == absl::StatusCode::kUnavailable);
  CHECK(CreateCode(*no_certificate, "docs") == absl::StatusCode::kUnavailable);

  std::unique_ptr<QuarryClient> foreign =
      Connect(server.process(), WithClientCertificate(ca, foreign_client));
  CHECK(foreign->Healthy().status().code() == absl::StatusCode::kUnavailable);
  CHECK(CreateCode(*foreign, "docs") == absl::StatusCode::kUnavailable);

  std::unique_ptr<QuarryClient> good =
      Connect(server.process(), WithClientCertificate(ca, good_client));
  CHECK(good->Healthy().ok());
  CHECK(CreateCode(*good, "docs") == absl::StatusCode::kOk);

  const std::string tls =
      "--address=" + server->address() + " --tls_ca_file=" + ca.certificate_file();
  CHECK(RunCli(tls + " --tls_client_cert_file=" + good_client.certificate +
               " --tls_client_key_file=" + good_client.key + " collections get docs")
            .exit_code == 0);
  CHECK(RunCli(tls + " collections get docs 2>/dev/null").exit_code == 1);
}

TEST_CASE("TLS: the server refuses to start with half a configuration", "[security][tls]") {
  TempDir directory;
  const std::string log = directory.Join("server.log");
  ServerConfig config;
  config.data_dir = directory.Join("data");
  config.log_path = log;
  config.flags = {"--tls_cert_file=" + directory.Join("missing.pem")};
  CHECK_THROWS_WITH(ServerProcess(config), Catch::Contains("--tls_key_file"));
  config.flags = {"--tls_cert_file=" + directory.Join("missing.pem"),
                  "--tls_key_file=" + directory.Join("missing.key")};
  CHECK_THROWS_WITH(ServerProcess(config), Catch::Contains("missing.pem"));
}

// --- API keys --------------------------------------------------------------------------------

v1::IngestRequest OneDocument(const std::string& collection) {
  v1::IngestRequest request;
  request.set_collection(collection);
  *request.add_documents() = Doc("d1", "rotating signing keys every ninety days");
  return request;
}

v1::SearchRequest Query(const std::string& collection) {
  return TextQuery(collection, "signing keys");
}

struct ApiKeysFixture {
  TempDir directory{"quarry-keys"};
  Key admin = NewKey();
  Key reader = NewKey();  // read, collection "a"
  Key writer = NewKey();  // readwrite, collection "a"
  std::string keys_file = directory.Join("keys.json");

  ApiKeysFixture() {
    WriteTextFile(keys_file, "{\"keys\": [" + KeyEntry("admin", admin, "readwrite", "[\"*\"]") +
                                 ", " + KeyEntry("reader", reader, "read", "[\"a\"]") + ", " +
                                 KeyEntry("writer", writer, "readwrite", "[\"a\"]") + "]}");
  }
};

TEST_CASE_METHOD(ApiKeysFixture,
                 "API keys: missing or wrong keys are UNAUTHENTICATED; health "
                 "stays open",
                 "[security][keys]") {
  TestServer server({"--api_keys_file=" + keys_file});

  std::unique_ptr<QuarryClient> anonymous = Connect(server.process());
  absl::StatusOr<bool> healthy = anonymous->Healthy();
  REQUIRE(healthy.ok());
  CHECK(*healthy);
  absl::Status refused = anonymous->ListCollections().status();
  CHECK(refused.code() == absl::StatusCode::kUnauthenticated);
  CHECK(std::string(refused.message()).find("authorization: Bearer") != std::string::npos);
  CHECK(CreateCode(*anonymous, "a") == absl::StatusCode::kUnauthenticated);

  CHECK(CreateCode(*Connect(server.process(), WithKey("qk_wrong")), "a") ==
        absl::StatusCode::kUnauthenticated);
  // The fingerprint is not the key.
  CHECK(CreateCode(*Connect(server.process(), WithKey(admin.fingerprint)), "a") ==
        absl::StatusCode::kUnauthenticated);
  // Nothing was created by the refused calls.
  absl::StatusOr<v1::ListCollectionsResponse> listed =
      Connect(server.process(), WithKey(admin.secret))->ListCollections();
  REQUIRE(listed.ok());
  CHECK(listed->collections().empty());

  // Both ways of sending a key work.
  CHECK(CreateCode(*Connect(server.process(), WithKey(admin.secret)), "a") ==
        absl::StatusCode::kOk);
  CHECK(CreateCode(*Connect(server.process(), WithKey(admin.secret, "x-api-key")), "b") ==
        absl::StatusCode::kOk);
}

TEST_CASE_METHOD(ApiKeysFixture, "API keys: roles and collection lists are enforced",
                 "[security][keys]") {
  TestServer server({"--api_keys_file=" + keys_file});
  std::unique_ptr<QuarryClient> as_admin = Connect(server.process(), WithKey(admin.secret));
  std::unique_ptr<QuarryClient> as_reader = Connect(server.process(), WithKey(reader.secret));
  std::unique_ptr<QuarryClient> as_writer = Connect(server.process(), WithKey(writer.secret));
  REQUIRE(CreateCode(*as_admin, "a") == absl::StatusCode::kOk);
  REQUIRE(CreateCode(*as_admin, "b") == absl::StatusCode::kOk);
  REQUIRE(as_admin->Ingest(OneDocument("b")).ok());

  // The writer writes to "a" only.
  CHECK(as_writer->Ingest(OneDocument("a")).ok());
  absl::Status denied = as_writer->Ingest(OneDocument("b")).status();
  CHECK(denied.code() == absl::StatusCode::kPermissionDenied);
  CHECK(std::string(denied.message()).find("\"b\"") != std::string::npos);
  CHECK(CreateCode(*as_writer, "c") == absl::StatusCode::kPermissionDenied);
  // IngestStream learns the collection from its first message.
  v1::IngestStreamRequest batch;
  batch.set_collection("b");
  *batch.add_documents() = Doc("s1", "streamed");
  CHECK(as_writer->IngestStream(std::vector<v1::IngestStreamRequest>{batch}).status().code() ==
        absl::StatusCode::kPermissionDenied);
  batch.set_collection("a");
  CHECK(as_writer->IngestStream(std::vector<v1::IngestStreamRequest>{batch}).ok());

  // The reader reads "a" and nothing else, and writes nothing.
  absl::StatusOr<v1::SearchResponse> found = as_reader->Search(Query("a"));
  REQUIRE(found.ok());
  CHECK(found->hits_size() > 0);
  CHECK(as_reader->Search(Query("b")).status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(as_reader->Ingest(OneDocument("a")).status().code() == absl::StatusCode::kPermissionDenied);
  v1::DeleteDocumentsRequest deletion;
  deletion.set_collection("a");
  deletion.add_ids("d1");
  CHECK(as_reader->DeleteDocuments(deletion).status().code() ==
        absl::StatusCode::kPermissionDenied);
  v1::DeleteCollectionRequest drop;
  drop.set_name("a");
  CHECK(as_reader->DeleteCollection(drop).status().code() == absl::StatusCode::kPermissionDenied);
  v1::GetDocumentRequest get;
  get.set_collection("b");
  get.set_id("d1");
  CHECK(as_reader->GetDocument(get).status().code() == absl::StatusCode::kPermissionDenied);
  get.set_collection("a");
  CHECK(as_reader->GetDocument(get).ok());

  // Listing shows each key only what it may see.
  absl::StatusOr<v1::ListCollectionsResponse> reader_list = as_reader->ListCollections();
  REQUIRE(reader_list.ok());
  REQUIRE(reader_list->collections_size() == 1);
  CHECK(reader_list->collections(0).name() == "a");
  absl::StatusOr<v1::ListCollectionsResponse> admin_list = as_admin->ListCollections();
  REQUIRE(admin_list.ok());
  CHECK(admin_list->collections_size() == 2);

  // Nothing the refused calls tried changed anything.
  v1::GetCollectionRequest stats;
  stats.set_name("b");
  absl::StatusOr<v1::Collection> b = as_admin->GetCollection(stats);
  REQUIRE(b.ok());
  CHECK(b->stats().documents() == 1);
  stats.set_name("a");
  absl::StatusOr<v1::Collection> a = as_admin->GetCollection(stats);
  REQUIRE(a.ok());
  CHECK(a->stats().documents() == 2);

  // The CLI sends its key from --api_key or QUARRY_API_KEY.
  const std::string address = "--address=" + server->address();
  CHECK(RunCli(address + " --api_key=" + reader.secret + " search signing --collection a")
            .exit_code == 0);
  CHECK(RunCli(address + " search signing --collection a", "QUARRY_API_KEY=" + reader.secret)
            .exit_code == 0);
  CHECK(RunCli(address + " search signing --collection a 2>/dev/null").exit_code == 1);
}

TEST_CASE("API keys: the key document may be given inline (--api_keys, QUARRY_API_KEYS)",
          "[security][keys]") {
  const Key key = NewKey();
  TestServer server(
      {"--api_keys={\"keys\": [" + KeyEntry("inline", key, "read", "[\"*\"]") + "]}"});
  CHECK(Connect(server.process(), WithKey(key.secret))->ListCollections().ok());
  CHECK(Connect(server.process())->ListCollections().status().code() ==
        absl::StatusCode::kUnauthenticated);
}

TEST_CASE("API keys: a malformed key file stops the server at start", "[security][keys]") {
  TempDir directory;
  const std::string keys_file = directory.Join("keys.json");
  WriteTextFile(keys_file,
                "{\"keys\": [{\"name\": \"x\", \"sha256\": \"abc\", \"role\": "
                "\"read\", \"collections\": [\"*\"]}]}");
  ServerConfig config;
  config.data_dir = directory.Join("data");
  config.log_path = directory.Join("server.log");
  config.flags = {"--api_keys_file=" + keys_file};
  CHECK_THROWS_WITH(ServerProcess(config), Catch::Contains("64 hex digits"));
}

}  // namespace
}  // namespace quarry::testing
