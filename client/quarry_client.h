// A small C++ client for the quarry.v1 API: one object per server address, one method per RPC,
// errors as absl::Status with the server's code and message unchanged.
//
//   absl::StatusOr<std::unique_ptr<QuarryClient>> client = QuarryClient::Create("127.0.0.1:50051");
//   quarry::v1::SearchRequest request;
//   request.set_collection("docs");
//   request.set_text("how do I rotate keys?");
//   absl::StatusOr<quarry::v1::SearchResponse> response = (*client)->Search(request);
//
// Every call has a deadline: CallOptions::timeout, else ClientOptions::default_timeout (60 s).
// The client is thread-safe; share one per process (the channel multiplexes calls).
#ifndef QUARRY_CLIENT_QUARRY_CLIENT_H_
#define QUARRY_CLIENT_QUARRY_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "quarry/v1/quarry.grpc.pb.h"
#include "quarry/v1/quarry.pb.h"

namespace quarry::client {

// Transport security. Without it (the default) the channel is plaintext; with it, TLS, for a
// server started with --tls_cert_file (mutual TLS when a client certificate is given, for a
// server with --tls_client_ca_file).
struct TlsOptions {
  std::string root_certificates_pem;   // empty: the system's roots
  std::string client_certificate_pem;  // both empty, or both set
  std::string client_key_pem;
  std::string server_name_override;  // when the certificate's name differs from the address
};

struct ClientOptions {
  absl::Duration default_timeout = absl::Seconds(60);
  std::optional<TlsOptions> tls;
  // Sent with every call, e.g. {"authorization", "Bearer KEY"} for a server with API keys.
  // Keys must be lowercase.
  std::vector<std::pair<std::string, std::string>> metadata;
  // Large top_k searches and whole documents can exceed gRPC's 4 MiB default.
  int max_receive_message_bytes = 64 << 20;
};

struct CallOptions {
  // Deadline for this call, from its start. Unset: ClientOptions::default_timeout.
  // absl::InfiniteDuration(): no deadline.
  std::optional<absl::Duration> timeout;
};

// Same code (grpc::StatusCode and absl::StatusCode agree numerically), same message.
absl::Status FromGrpcStatus(const grpc::Status& status);

class QuarryClient {
 public:
  // Connects lazily: an unreachable server shows up as UNAVAILABLE on the first call.
  // INVALID_ARGUMENT for inconsistent TLS options.
  static absl::StatusOr<std::unique_ptr<QuarryClient>> Create(const std::string& target,
                                                              ClientOptions options = {});

  // Over an existing channel (in-process servers in tests, custom channel arguments).
  explicit QuarryClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options = {});

  // CollectionService.
  absl::StatusOr<quarry::v1::Collection> CreateCollection(
      const quarry::v1::CreateCollectionRequest& request, const CallOptions& call = {});
  absl::StatusOr<quarry::v1::ListCollectionsResponse> ListCollections(
      const quarry::v1::ListCollectionsRequest& request = {}, const CallOptions& call = {});
  absl::StatusOr<quarry::v1::Collection> GetCollection(
      const quarry::v1::GetCollectionRequest& request, const CallOptions& call = {});
  absl::StatusOr<quarry::v1::DeleteCollectionResponse> DeleteCollection(
      const quarry::v1::DeleteCollectionRequest& request, const CallOptions& call = {});

  // DocumentService.
  absl::StatusOr<quarry::v1::IngestResponse> Ingest(const quarry::v1::IngestRequest& request,
                                                    const CallOptions& call = {});
  absl::StatusOr<quarry::v1::DeleteDocumentsResponse> DeleteDocuments(
      const quarry::v1::DeleteDocumentsRequest& request, const CallOptions& call = {});
  // The standard gRPC health check of the whole server: true when it reports SERVING.
  absl::StatusOr<bool> Healthy(const CallOptions& call = {});

  absl::StatusOr<quarry::v1::Document> GetDocument(const quarry::v1::GetDocumentRequest& request,
                                                   const CallOptions& call = {});

  // Fills *batch with the next message of an IngestStream and returns true, or returns false
  // when there is nothing more to send. An error cancels the stream and is what IngestStream
  // returns (the server keeps the batches it already committed).
  using BatchSource = std::function<absl::StatusOr<bool>(quarry::v1::IngestStreamRequest* batch)>;

  // Client-streaming bulk load. The deadline covers the whole stream; for long loads pass a
  // generous CallOptions::timeout (or an infinite one). On a server error, the status message
  // says how many documents were committed before it.
  absl::StatusOr<quarry::v1::IngestStreamResponse> IngestStream(const BatchSource& next_batch,
                                                                const CallOptions& call = {});
  absl::StatusOr<quarry::v1::IngestStreamResponse> IngestStream(
      const std::vector<quarry::v1::IngestStreamRequest>& batches, const CallOptions& call = {});

  // SearchService.
  absl::StatusOr<quarry::v1::SearchResponse> Search(const quarry::v1::SearchRequest& request,
                                                    const CallOptions& call = {});

  // Called for each streamed event, in order (Sources, AnswerDeltas, GenerateResult). Returning
  // an error cancels the call; Generate then returns that error.
  using GenerateCallback = std::function<absl::Status(const quarry::v1::GenerateResponse& event)>;

  // GenerationService. Returns the final GenerateResult (also passed to `on_event`); INTERNAL
  // if the server ended the stream without one.
  absl::StatusOr<quarry::v1::GenerateResult> Generate(const quarry::v1::GenerateRequest& request,
                                                      const GenerateCallback& on_event,
                                                      const CallOptions& call = {});

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  // Applies the deadline and metadata of one call to its context.
  void Prepare(const CallOptions& call, grpc::ClientContext* context) const;

  // Runs one unary RPC: `invoke(context, response)` calls the stub.
  template <typename Response, typename Invoke>
  absl::StatusOr<Response> Unary(const CallOptions& call, Invoke invoke) const;

  std::shared_ptr<grpc::Channel> channel_;
  ClientOptions options_;
  std::unique_ptr<quarry::v1::CollectionService::Stub> collections_;
  std::unique_ptr<quarry::v1::DocumentService::Stub> documents_;
  std::unique_ptr<quarry::v1::SearchService::Stub> search_;
  std::unique_ptr<quarry::v1::GenerationService::Stub> generation_;
};

}  // namespace quarry::client

#endif  // QUARRY_CLIENT_QUARRY_CLIENT_H_
