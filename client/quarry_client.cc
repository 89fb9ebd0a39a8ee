#include "client/quarry_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace quarry::client {

namespace v1 = ::quarry::v1;

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

absl::StatusOr<std::unique_ptr<QuarryClient>> QuarryClient::Create(const std::string& target,
                                                                   ClientOptions options) {
  if (target.empty()) return absl::InvalidArgumentError("empty server address");
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(options.max_receive_message_bytes);

  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls.has_value()) {
    const TlsOptions& tls = *options.tls;
    if (tls.client_certificate_pem.empty() != tls.client_key_pem.empty()) {
      return absl::InvalidArgumentError(
          "TLS: a client certificate and its private key must be given together");
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = tls.root_certificates_pem;
    ssl.pem_cert_chain = tls.client_certificate_pem;
    ssl.pem_private_key = tls.client_key_pem;
    credentials = grpc::SslCredentials(ssl);
    if (!tls.server_name_override.empty()) {
      arguments.SetSslTargetNameOverride(tls.server_name_override);
    }
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(target, credentials, arguments);
  return std::make_unique<QuarryClient>(std::move(channel), std::move(options));
}

QuarryClient::QuarryClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : channel_(std::move(channel)),
      options_(std::move(options)),
      collections_(v1::CollectionService::NewStub(channel_)),
      documents_(v1::DocumentService::NewStub(channel_)),
      search_(v1::SearchService::NewStub(channel_)),
      generation_(v1::GenerationService::NewStub(channel_)) {}

void QuarryClient::Prepare(const CallOptions& call, grpc::ClientContext* context) const {
  const absl::Duration timeout = call.timeout.value_or(options_.default_timeout);
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  for (const auto& [key, value] : options_.metadata) context->AddMetadata(key, value);
}

template <typename Response, typename Invoke>
absl::StatusOr<Response> QuarryClient::Unary(const CallOptions& call, Invoke invoke) const {
  grpc::ClientContext context;
  Prepare(call, &context);
  Response response;
  const grpc::Status status = invoke(&context, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::Collection> QuarryClient::CreateCollection(
    const v1::CreateCollectionRequest& request, const CallOptions& call) {
  return Unary<v1::Collection>(call, [&](grpc::ClientContext* context, v1::Collection* response) {
    return collections_->CreateCollection(context, request, response);
  });
}

absl::StatusOr<v1::ListCollectionsResponse> QuarryClient::ListCollections(
    const v1::ListCollectionsRequest& request, const CallOptions& call) {
  return Unary<v1::ListCollectionsResponse>(
      call, [&](grpc::ClientContext* context, v1::ListCollectionsResponse* response) {
        return collections_->ListCollections(context, request, response);
      });
}

absl::StatusOr<v1::Collection> QuarryClient::GetCollection(const v1::GetCollectionRequest& request,
                                                           const CallOptions& call) {
  return Unary<v1::Collection>(call, [&](grpc::ClientContext* context, v1::Collection* response) {
    return collections_->GetCollection(context, request, response);
  });
}

absl::StatusOr<v1::DeleteCollectionResponse> QuarryClient::DeleteCollection(
    const v1::DeleteCollectionRequest& request, const CallOptions& call) {
  return Unary<v1::DeleteCollectionResponse>(
      call, [&](grpc::ClientContext* context, v1::DeleteCollectionResponse* response) {
        return collections_->DeleteCollection(context, request, response);
      });
}

absl::StatusOr<v1::IngestResponse> QuarryClient::Ingest(const v1::IngestRequest& request,
                                                        const CallOptions& call) {
  return Unary<v1::IngestResponse>(call,
                                   [&](grpc::ClientContext* context, v1::IngestResponse* response) {
                                     return documents_->Ingest(context, request, response);
                                   });
}

absl::StatusOr<v1::DeleteDocumentsResponse> QuarryClient::DeleteDocuments(
    const v1::DeleteDocumentsRequest& request, const CallOptions& call) {
  return Unary<v1::DeleteDocumentsResponse>(
      call, [&](grpc::ClientContext* context, v1::DeleteDocumentsResponse* response) {
        return documents_->DeleteDocuments(context, request, response);
      });
}

absl::StatusOr<v1::Document> QuarryClient::GetDocument(const v1::GetDocumentRequest& request,
                                                       const CallOptions& call) {
  return Unary<v1::Document>(call, [&](grpc::ClientContext* context, v1::Document* response) {
    return documents_->GetDocument(context, request, response);
  });
}

absl::StatusOr<bool> QuarryClient::Healthy(const CallOptions& call) {
  std::unique_ptr<grpc::health::v1::Health::Stub> health =
      grpc::health::v1::Health::NewStub(channel_);
  absl::StatusOr<grpc::health::v1::HealthCheckResponse> response =
      Unary<grpc::health::v1::HealthCheckResponse>(
          call, [&](grpc::ClientContext* context, grpc::health::v1::HealthCheckResponse* out) {
            return health->Check(context, grpc::health::v1::HealthCheckRequest(), out);
          });
  if (!response.ok()) return response.status();
  return response->status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

absl::StatusOr<v1::IngestStreamResponse> QuarryClient::IngestStream(const BatchSource& next_batch,
                                                                    const CallOptions& call) {
  grpc::ClientContext context;
  Prepare(call, &context);
  v1::IngestStreamResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::IngestStreamRequest>> writer =
      documents_->IngestStream(&context, &response);
  while (true) {
    v1::IngestStreamRequest batch;
    absl::StatusOr<bool> more = next_batch(&batch);
    if (!more.ok()) {
      // The source failed (e.g. a bad input line): abandon the stream rather than finish it,
      // so the server cannot mistake a truncated load for a complete one.
      context.TryCancel();
      static_cast<void>(writer->Finish());  // releases the call; its CANCELLED status is noise
      return more.status();
    }
    if (!*more) break;
    // A failed write means the server already ended the stream; Finish says why.
    if (!writer->Write(batch)) break;
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::IngestStreamResponse> QuarryClient::IngestStream(
    const std::vector<v1::IngestStreamRequest>& batches, const CallOptions& call) {
  size_t next = 0;
  return IngestStream(
      [&](v1::IngestStreamRequest* batch) -> absl::StatusOr<bool> {
        if (next == batches.size()) return false;
        *batch = batches[next++];
        return true;
      },
      call);
}

absl::StatusOr<v1::SearchResponse> QuarryClient::Search(const v1::SearchRequest& request,
                                                        const CallOptions& call) {
  return Unary<v1::SearchResponse>(call,
                                   [&](grpc::ClientContext* context, v1::SearchResponse* response) {
                                     return search_->Search(context, request, response);
                                   });
}

absl::StatusOr<v1::GenerateResult> QuarryClient::Generate(const v1::GenerateRequest& request,
                                                          const GenerateCallback& on_event,
                                                          const CallOptions& call) {
  grpc::ClientContext context;
  Prepare(call, &context);
  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader =
      generation_->Generate(&context, request);
  std::optional<v1::GenerateResult> result;
  v1::GenerateResponse event;
  absl::Status callback_status;
  while (reader->Read(&event)) {
    if (event.has_result()) result = event.result();
    if (on_event) callback_status = on_event(event);
    if (!callback_status.ok()) {
      context.TryCancel();
      while (reader->Read(&event)) {
      }  // drain what is in flight so that Finish can complete
      break;
    }
  }
  const grpc::Status status = reader->Finish();
  if (!callback_status.ok()) return callback_status;
  if (!status.ok()) return FromGrpcStatus(status);
  if (!result.has_value()) {
    return absl::InternalError("Generate: the stream ended without a GenerateResult");
  }
  return *std::move(result);
}

}  // namespace quarry::client
