// QuarryClient against small in-process fakes of the quarry.v1 services: status conversion,
// deadlines, metadata, and the two streaming helpers. The real server is exercised by the
// integration tests; here only the client's own behaviour is under test.
#include "client/quarry_client.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_context.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace quarry::client {
namespace {

namespace v1 = ::quarry::v1;

class FakeCollections final : public v1::CollectionService::Service {
  grpc::Status CreateCollection(grpc::ServerContext*, const v1::CreateCollectionRequest* request,
                                v1::Collection* response) override {
    if (request->name() == "taken") {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "collection \"taken\" exists");
    }
    response->set_name(request->name());
    response->mutable_spec()->set_dimension(request->spec().dimension());
    return grpc::Status::OK;
  }
  grpc::Status GetCollection(grpc::ServerContext*, const v1::GetCollectionRequest* request,
                             v1::Collection*) override {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "collection \"" + request->name() + "\" does not exist");
  }
};

class FakeDocuments final : public v1::DocumentService::Service {
  // Commits each message; a document with id "bad" fails the stream, as the real one would.
  grpc::Status IngestStream(grpc::ServerContext* context,
                            grpc::ServerReader<v1::IngestStreamRequest>* reader,
                            v1::IngestStreamResponse* response) override {
    v1::IngestStreamRequest message;
    int64_t documents = 0;
    while (reader->Read(&message)) {
      for (const v1::Document& document : message.documents()) {
        if (document.id() == "bad") {
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              "document \"bad\" is invalid; " + std::to_string(documents) +
                                  " documents were committed before it");
        }
      }
      documents += message.documents_size();
    }
    response->set_documents(documents);
    response->set_chunks(documents * 2);
    return grpc::Status::OK;
  }
};

class FakeSearch final : public v1::SearchService::Service {
  grpc::Status Search(grpc::ServerContext* context, const v1::SearchRequest* request,
                      v1::SearchResponse* response) override {
    if (request->text() == "slow") {
      // Outlive any short client deadline, but stop as soon as the call is cancelled.
      const absl::Time give_up = absl::Now() + absl::Seconds(10);
      while (!context->IsCancelled() && absl::Now() < give_up) {
        absl::SleepFor(absl::Milliseconds(5));
      }
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    }
    // Echo what the client sent, so the test can see it.
    for (const auto& [key, value] : context->client_metadata()) {
      if (key == "authorization") {
        response->add_notices(std::string(value.data(), value.size()));
      }
    }
    v1::SearchHit* hit = response->add_hits();
    hit->set_chunk_id("doc#0");
    hit->set_text(request->text());
    return grpc::Status::OK;
  }
};

class FakeGeneration final : public v1::GenerationService::Service {
  grpc::Status Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                        grpc::ServerWriter<v1::GenerateResponse>* writer) override {
    v1::GenerateResponse event;
    v1::Source* source = event.mutable_sources()->add_sources();
    source->set_number(1);
    source->set_chunk_id("doc#0");
    writer->Write(event);
    for (const char* piece : {"Hello", ", ", "world [1]"}) {
      if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      event.Clear();
      event.mutable_delta()->set_text(piece);
      writer->Write(event);
    }
    if (request->question() == "no result") return grpc::Status::OK;
    event.Clear();
    event.mutable_result()->set_answer("Hello, world [1]");
    event.mutable_result()->set_finish_reason("stop");
    writer->Write(event);
    return grpc::Status::OK;
  }
};

// The four fakes on an ephemeral port, and a client connected to them.
class FakeServer {
 public:
  explicit FakeServer(ClientOptions options = {}) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&collections_);
    builder.RegisterService(&documents_);
    builder.RegisterService(&search_);
    builder.RegisterService(&generation_);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
    absl::StatusOr<std::unique_ptr<QuarryClient>> created =
        QuarryClient::Create("127.0.0.1:" + std::to_string(port), std::move(options));
    REQUIRE(created.ok());
    client = *std::move(created);
  }
  ~FakeServer() { server_->Shutdown(std::chrono::system_clock::now()); }

  std::unique_ptr<QuarryClient> client;

 private:
  FakeCollections collections_;
  FakeDocuments documents_;
  FakeSearch search_;
  FakeGeneration generation_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_CASE("Unary calls return the response or the server's code and message", "[client]") {
  FakeServer server;
  v1::CreateCollectionRequest create;
  create.set_name("docs");
  create.mutable_spec()->set_dimension(64);
  absl::StatusOr<v1::Collection> created = server.client->CreateCollection(create);
  REQUIRE(created.ok());
  CHECK(created->name() == "docs");
  CHECK(created->spec().dimension() == 64);

  create.set_name("taken");
  CHECK(server.client->CreateCollection(create).status().code() ==
        absl::StatusCode::kAlreadyExists);

  v1::GetCollectionRequest get;
  get.set_name("nope");
  absl::StatusOr<v1::Collection> missing = server.client->GetCollection(get);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK(missing.status().message() == "collection \"nope\" does not exist");

  // A method the fake does not implement: gRPC's own UNIMPLEMENTED comes through as is.
  CHECK(server.client->ListCollections().status().code() == absl::StatusCode::kUnimplemented);
}

TEST_CASE("The per-call deadline is honoured", "[client]") {
  FakeServer server;
  v1::SearchRequest request;
  request.set_collection("docs");
  request.set_text("slow");
  CallOptions call;
  call.timeout = absl::Milliseconds(100);
  absl::StatusOr<v1::SearchResponse> response = server.client->Search(request, call);
  CHECK(response.status().code() == absl::StatusCode::kDeadlineExceeded);
}

TEST_CASE("Client metadata is sent with every call", "[client]") {
  ClientOptions options;
  options.metadata.emplace_back("authorization", "Bearer token");
  FakeServer server(options);
  v1::SearchRequest request;
  request.set_text("hello");
  absl::StatusOr<v1::SearchResponse> response = server.client->Search(request);
  REQUIRE(response.ok());
  REQUIRE(response->notices_size() == 1);
  CHECK(response->notices(0) == "Bearer token");
  CHECK(response->hits(0).text() == "hello");
}

std::vector<v1::IngestStreamRequest> Batches(const std::vector<std::vector<std::string>>& ids) {
  std::vector<v1::IngestStreamRequest> batches;
  for (const auto& batch_ids : ids) {
    v1::IngestStreamRequest& batch = batches.emplace_back();
    batch.set_collection("docs");
    for (const std::string& id : batch_ids) {
      v1::Document* document = batch.add_documents();
      document->set_id(id);
      document->set_text("text of " + id);
    }
  }
  return batches;
}

TEST_CASE("IngestStream sends every batch and returns the totals", "[client]") {
  FakeServer server;
  absl::StatusOr<v1::IngestStreamResponse> response =
      server.client->IngestStream(Batches({{"a", "b"}, {"c"}, {"d", "e", "f"}}));
  REQUIRE(response.ok());
  CHECK(response->documents() == 6);
  CHECK(response->chunks() == 12);
}

TEST_CASE("IngestStream returns the server's error", "[client]") {
  FakeServer server;
  absl::StatusOr<v1::IngestStreamResponse> response =
      server.client->IngestStream(Batches({{"a", "b"}, {"bad"}, {"c"}}));
  REQUIRE_FALSE(response.ok());
  CHECK(response.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(response.status().message() ==
        "document \"bad\" is invalid; 2 documents were committed before it");
}

TEST_CASE("IngestStream: a failing source cancels the stream", "[client]") {
  FakeServer server;
  int calls = 0;
  absl::StatusOr<v1::IngestStreamResponse> response =
      server.client->IngestStream([&](v1::IngestStreamRequest* batch) -> absl::StatusOr<bool> {
        if (++calls == 3) return absl::InvalidArgumentError("corpus.jsonl:7: bad line");
        batch->set_collection("docs");
        batch->add_documents()->set_text("t");
        return true;
      });
  REQUIRE_FALSE(response.ok());
  CHECK(response.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(response.status().message() == "corpus.jsonl:7: bad line");
}

TEST_CASE("Generate passes every event in order and returns the result", "[client]") {
  FakeServer server;
  v1::GenerateRequest request;
  request.set_question("hi");
  std::vector<v1::GenerateResponse::EventCase> events;
  std::string answer;
  absl::StatusOr<v1::GenerateResult> result =
      server.client->Generate(request, [&](const v1::GenerateResponse& event) {
        events.push_back(event.event_case());
        if (event.has_delta()) answer += event.delta().text();
        return absl::OkStatus();
      });
  REQUIRE(result.ok());
  CHECK(result->answer() == "Hello, world [1]");
  CHECK(answer == result->answer());
  CHECK(events == std::vector<v1::GenerateResponse::EventCase>{
                      v1::GenerateResponse::kSources, v1::GenerateResponse::kDelta,
                      v1::GenerateResponse::kDelta, v1::GenerateResponse::kDelta,
                      v1::GenerateResponse::kResult});
}

TEST_CASE("Generate: a failing callback cancels; a missing result is an error", "[client]") {
  FakeServer server;
  v1::GenerateRequest request;
  request.set_question("hi");
  int seen = 0;
  absl::StatusOr<v1::GenerateResult> stopped =
      server.client->Generate(request, [&](const v1::GenerateResponse&) {
        return ++seen == 2 ? absl::CancelledError("stop here") : absl::OkStatus();
      });
  CHECK(seen == 2);
  CHECK(stopped.status().code() == absl::StatusCode::kCancelled);
  CHECK(stopped.status().message() == "stop here");

  request.set_question("no result");
  absl::StatusOr<v1::GenerateResult> truncated = server.client->Generate(request, nullptr);
  CHECK(truncated.status().code() == absl::StatusCode::kInternal);
}

TEST_CASE("Create validates its options", "[client]") {
  CHECK(QuarryClient::Create("").status().code() == absl::StatusCode::kInvalidArgument);
  ClientOptions options;
  options.tls.emplace();
  options.tls->client_certificate_pem = "-----BEGIN CERTIFICATE-----";
  CHECK(QuarryClient::Create("localhost:1", options).status().code() ==
        absl::StatusCode::kInvalidArgument);
  options.tls->client_certificate_pem.clear();
  CHECK(QuarryClient::Create("localhost:1", options).ok());  // TLS with the system's roots
}

}  // namespace
}  // namespace quarry::client
