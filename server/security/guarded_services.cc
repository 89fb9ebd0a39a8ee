#include "server/security/guarded_services.h"

#include <utility>

#include "server/status_convert.h"

namespace quarry::security {
namespace {

// Admits the call, then runs `handler` while the ticket is held.
template <typename Handler>
grpc::Status Guarded(CallGate& gate, grpc::ServerContext* context, const CallRequest& request,
                     Handler handler) {
  absl::StatusOr<CallGate::Ticket> ticket = gate.Admit(context, request);
  if (!ticket.ok()) return server::ToGrpcStatus(ticket.status());
  return handler(*ticket);
}

}  // namespace

grpc::Status GuardedCollectionService::CreateCollection(grpc::ServerContext* context,
                                                        const v1::CreateCollectionRequest* request,
                                                        v1::Collection* response) {
  return Guarded(*gate_, context, {Access::kWrite, request->name()}, [&](CallGate::Ticket&) {
    return inner_->CreateCollection(context, request, response);
  });
}

grpc::Status GuardedCollectionService::ListCollections(grpc::ServerContext* context,
                                                       const v1::ListCollectionsRequest* request,
                                                       v1::ListCollectionsResponse* response) {
  return Guarded(*gate_, context, {Access::kRead, ""}, [&](CallGate::Ticket& ticket) {
    grpc::Status status = inner_->ListCollections(context, request, response);
    auto& collections = *response->mutable_collections();
    for (int i = collections.size() - 1; i >= 0; --i) {
      if (!ticket.MaySee(collections[i].name())) collections.DeleteSubrange(i, 1);
    }
    return status;
  });
}

grpc::Status GuardedCollectionService::GetCollection(grpc::ServerContext* context,
                                                     const v1::GetCollectionRequest* request,
                                                     v1::Collection* response) {
  return Guarded(*gate_, context, {Access::kRead, request->name()}, [&](CallGate::Ticket&) {
    return inner_->GetCollection(context, request, response);
  });
}

grpc::Status GuardedCollectionService::DeleteCollection(grpc::ServerContext* context,
                                                        const v1::DeleteCollectionRequest* request,
                                                        v1::DeleteCollectionResponse* response) {
  return Guarded(*gate_, context, {Access::kWrite, request->name()}, [&](CallGate::Ticket&) {
    return inner_->DeleteCollection(context, request, response);
  });
}

grpc::Status GuardedDocumentService::Ingest(grpc::ServerContext* context,
                                            const v1::IngestRequest* request,
                                            v1::IngestResponse* response) {
  return Guarded(*gate_, context, {Access::kWrite, request->collection()},
                 [&](CallGate::Ticket&) { return inner_->Ingest(context, request, response); });
}

grpc::Status GuardedDocumentService::IngestStream(
    grpc::ServerContext* context, grpc::ServerReader<v1::IngestStreamRequest>* reader,
    v1::IngestStreamResponse* response) {
  // The collection is checked by the service when the first message names it.
  return Guarded(*gate_, context, {Access::kWrite, ""}, [&](CallGate::Ticket&) {
    return inner_->IngestStream(context, reader, response);
  });
}

grpc::Status GuardedDocumentService::DeleteDocuments(grpc::ServerContext* context,
                                                     const v1::DeleteDocumentsRequest* request,
                                                     v1::DeleteDocumentsResponse* response) {
  return Guarded(*gate_, context, {Access::kWrite, request->collection()}, [&](CallGate::Ticket&) {
    return inner_->DeleteDocuments(context, request, response);
  });
}

grpc::Status GuardedDocumentService::GetDocument(grpc::ServerContext* context,
                                                 const v1::GetDocumentRequest* request,
                                                 v1::Document* response) {
  return Guarded(*gate_, context, {Access::kRead, request->collection()}, [&](CallGate::Ticket&) {
    return inner_->GetDocument(context, request, response);
  });
}

grpc::Status GuardedSearchService::Search(grpc::ServerContext* context,
                                          const v1::SearchRequest* request,
                                          v1::SearchResponse* response) {
  return Guarded(*gate_, context, {Access::kRead, request->collection()},
                 [&](CallGate::Ticket&) { return inner_->Search(context, request, response); });
}

grpc::Status GuardedGenerationService::Generate(grpc::ServerContext* context,
                                                const v1::GenerateRequest* request,
                                                grpc::ServerWriter<v1::GenerateResponse>* writer) {
  return Guarded(
      *gate_, context,
      {.access = Access::kRead, .collection = request->collection(), .generate_stream = true},
      [&](CallGate::Ticket&) { return inner_->Generate(context, request, writer); });
}

}  // namespace quarry::security
