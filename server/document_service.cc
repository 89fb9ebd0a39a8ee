#include "server/document_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/proto_convert.h"
#include "server/status_convert.h"

namespace quarry::server {

absl::StatusOr<IngestResult> DocumentServiceImpl::IngestBatch(
    Collection& collection, google::protobuf::RepeatedPtrField<v1::Document>& documents) {
  if (documents.empty()) return absl::InvalidArgumentError("documents: at least one is required");
  if (documents.size() > max_batch_documents_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("batch has ", documents.size(), " documents; the limit is ",
                     max_batch_documents_, " (split it, or use IngestStream)"));
  }
  std::vector<Document> converted;
  converted.reserve(static_cast<size_t>(documents.size()));
  int64_t bytes = 0;
  for (int i = 0; i < documents.size(); ++i) {
    bytes += static_cast<int64_t>(documents[i].ByteSizeLong());
    absl::StatusOr<Document> document =
        DocumentFromProto(std::move(documents[i]), absl::StrCat("documents[", i, "]"));
    if (!document.ok()) return document.status();
    converted.push_back(*std::move(document));
  }
  const int64_t count = static_cast<int64_t>(converted.size());
  absl::StatusOr<IngestResult> result = collection.Ingest(std::move(converted));
  if (result.ok() && metrics_ != nullptr) {
    metrics_->RecordIngest(collection.config().name, count, result->chunks, bytes);
  }
  return result;
}

grpc::Status DocumentServiceImpl::Ingest(grpc::ServerContext* context,
                                         const v1::IngestRequest* request,
                                         v1::IngestResponse* response) {
  absl::StatusOr<std::shared_ptr<Collection>> collection = catalog_->Get(request->collection());
  if (!collection.ok()) return ToGrpcStatus(collection.status());
  // The request is const; copy the documents once so conversion can move their strings.
  google::protobuf::RepeatedPtrField<v1::Document> documents = request->documents();
  absl::StatusOr<IngestResult> result = IngestBatch(**collection, documents);
  if (!result.ok()) return ToGrpcStatus(result.status());
  for (std::string& id : result->ids) response->add_ids(std::move(id));
  response->set_chunks(result->chunks);
  return grpc::Status::OK;
}

grpc::Status DocumentServiceImpl::IngestStream(grpc::ServerContext* context,
                                               grpc::ServerReader<v1::IngestStreamRequest>* reader,
                                               v1::IngestStreamResponse* response) {
  v1::IngestStreamRequest request;
  std::shared_ptr<Collection> collection;
  int64_t messages = 0;
  grpc::Status read_status;
  // Not reader->Read(): it reports a request that fails to parse (e.g. invalid UTF-8) as the
  // end of the stream, which would answer OK for a stream cut short.
  while (v1::serialization::ReadRequest(*reader, &request, &read_status)) {
    ++messages;
    if (collection == nullptr) {
      if (authorize_stream_) {
        absl::Status allowed = authorize_stream_(*context, request.collection());
        if (!allowed.ok()) return ToGrpcStatus(allowed);
      }
      absl::StatusOr<std::shared_ptr<Collection>> found = catalog_->Get(request.collection());
      if (!found.ok()) return ToGrpcStatus(found.status());
      collection = *std::move(found);
    } else if (!request.collection().empty() && request.collection() != collection->config().name) {
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("message ", messages, " names collection '", request.collection(),
                       "' but the stream is for '", collection->config().name, "'; ",
                       response->documents(), " documents were committed before it"));
    }
    absl::StatusOr<IngestResult> result = IngestBatch(*collection, *request.mutable_documents());
    if (!result.ok()) {
      return grpc::Status(
          static_cast<grpc::StatusCode>(result.status().code()),
          absl::StrCat("message ", messages, ": ", result.status().message(), "; ",
                       response->documents(), " documents were committed before it"));
    }
    response->set_documents(response->documents() + static_cast<int64_t>(result->ids.size()));
    response->set_chunks(response->chunks() + result->chunks);
  }
  if (!read_status.ok()) {
    return grpc::Status(read_status.error_code(),
                        absl::StrCat("message ", messages + 1, ": ", read_status.error_message(),
                                     "; ", response->documents(),
                                     " documents were committed before it"));
  }
  if (context->IsCancelled()) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the stream");
  }
  return grpc::Status::OK;
}

grpc::Status DocumentServiceImpl::DeleteDocuments(grpc::ServerContext* context,
                                                  const v1::DeleteDocumentsRequest* request,
                                                  v1::DeleteDocumentsResponse* response) {
  absl::StatusOr<std::shared_ptr<Collection>> collection = catalog_->Get(request->collection());
  if (!collection.ok()) return ToGrpcStatus(collection.status());
  if (request->ids_size() > max_batch_documents_) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("request has ", request->ids_size(), " ids; the limit is ",
                                     max_batch_documents_));
  }
  std::vector<std::string> ids(request->ids().begin(), request->ids().end());
  absl::StatusOr<int64_t> deleted = (*collection)->Delete(ids);
  if (!deleted.ok()) return ToGrpcStatus(deleted.status());
  response->set_deleted(*deleted);
  return grpc::Status::OK;
}

grpc::Status DocumentServiceImpl::GetDocument(grpc::ServerContext* context,
                                              const v1::GetDocumentRequest* request,
                                              v1::Document* response) {
  absl::StatusOr<std::shared_ptr<Collection>> collection = catalog_->Get(request->collection());
  if (!collection.ok()) return ToGrpcStatus(collection.status());
  absl::StatusOr<StoredDocument> document = (*collection)->GetDocument(request->id());
  if (!document.ok()) return ToGrpcStatus(document.status());
  *response = StoredDocumentToProto(*document);
  return grpc::Status::OK;
}

}  // namespace quarry::server
