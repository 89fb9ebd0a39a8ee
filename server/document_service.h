// DocumentService: ingest (unary and client-streaming), delete and get documents.
#ifndef QUARRY_SERVER_DOCUMENT_SERVICE_H_
#define QUARRY_SERVER_DOCUMENT_SERVICE_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "index/catalog.h"
#include "quarry/v1/quarry.grpc.pb.h"
#include "server/metrics/server_metrics.h"

namespace quarry::server {

class DocumentServiceImpl final : public v1::DocumentService::Service {
 public:
  // Whether the caller may write to a collection an IngestStream names in its first message
  // (the other RPCs are checked before they reach this service; see server/security/).
  using StreamAuthorizer =
      std::function<absl::Status(const grpc::ServerContext& context, const std::string& collection)>;

  // `metrics` may be null (metrics disabled).
  DocumentServiceImpl(Catalog* catalog, int max_batch_documents, metrics::ServerMetrics* metrics,
                      StreamAuthorizer authorize_stream = {})
      : catalog_(catalog),
        max_batch_documents_(max_batch_documents),
        metrics_(metrics),
        authorize_stream_(std::move(authorize_stream)) {}

  grpc::Status Ingest(grpc::ServerContext* context, const v1::IngestRequest* request,
                      v1::IngestResponse* response) override;
  grpc::Status IngestStream(grpc::ServerContext* context,
                            grpc::ServerReader<v1::IngestStreamRequest>* reader,
                            v1::IngestStreamResponse* response) override;
  grpc::Status DeleteDocuments(grpc::ServerContext* context,
                               const v1::DeleteDocumentsRequest* request,
                               v1::DeleteDocumentsResponse* response) override;
  grpc::Status GetDocument(grpc::ServerContext* context, const v1::GetDocumentRequest* request,
                           v1::Document* response) override;

 private:
  // Converts and stores one batch; the documents are moved out of `documents`.
  absl::StatusOr<IngestResult> IngestBatch(
      Collection& collection, google::protobuf::RepeatedPtrField<v1::Document>& documents);

  Catalog* catalog_;
  int max_batch_documents_;
  metrics::ServerMetrics* metrics_;
  StreamAuthorizer authorize_stream_;
};

}  // namespace quarry::server

#endif  // QUARRY_SERVER_DOCUMENT_SERVICE_H_
