// The quarry.v1 services as the server registers them: each RPC passes the CallGate (keys,
// roles, rate limit, Generate streams, deadline cap) and then runs the real service's handler.
// Keeping the gate out of the services keeps them about retrieval; only IngestStream, whose
// collection arrives with its first message, asks the gate again from inside.
//
// ListCollections answers only the collections the caller's key may see (the call itself
// needs no particular collection).
#ifndef QUARRY_SERVER_SECURITY_GUARDED_SERVICES_H_
#define QUARRY_SERVER_SECURITY_GUARDED_SERVICES_H_

#include <grpcpp/server_builder.h>

#include "quarry/v1/quarry.grpc.pb.h"
#include "server/security/call_gate.h"

namespace quarry::security {

namespace v1 = ::quarry::v1;

class GuardedCollectionService final : public v1::CollectionService::Service {
 public:
  GuardedCollectionService(CallGate* gate, v1::CollectionService::Service* inner)
      : gate_(gate), inner_(inner) {}
  grpc::Status CreateCollection(grpc::ServerContext* context,
                                const v1::CreateCollectionRequest* request,
                                v1::Collection* response) override;
  grpc::Status ListCollections(grpc::ServerContext* context,
                               const v1::ListCollectionsRequest* request,
                               v1::ListCollectionsResponse* response) override;
  grpc::Status GetCollection(grpc::ServerContext* context, const v1::GetCollectionRequest* request,
                             v1::Collection* response) override;
  grpc::Status DeleteCollection(grpc::ServerContext* context,
                                const v1::DeleteCollectionRequest* request,
                                v1::DeleteCollectionResponse* response) override;

 private:
  CallGate* gate_;
  v1::CollectionService::Service* inner_;
};

class GuardedDocumentService final : public v1::DocumentService::Service {
 public:
  GuardedDocumentService(CallGate* gate, v1::DocumentService::Service* inner)
      : gate_(gate), inner_(inner) {}
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
  CallGate* gate_;
  v1::DocumentService::Service* inner_;
};

class GuardedSearchService final : public v1::SearchService::Service {
 public:
  GuardedSearchService(CallGate* gate, v1::SearchService::Service* inner)
      : gate_(gate), inner_(inner) {}
  grpc::Status Search(grpc::ServerContext* context, const v1::SearchRequest* request,
                      v1::SearchResponse* response) override;

 private:
  CallGate* gate_;
  v1::SearchService::Service* inner_;
};

class GuardedGenerationService final : public v1::GenerationService::Service {
 public:
  GuardedGenerationService(CallGate* gate, v1::GenerationService::Service* inner)
      : gate_(gate), inner_(inner) {}
  grpc::Status Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                        grpc::ServerWriter<v1::GenerateResponse>* writer) override;

 private:
  CallGate* gate_;
  v1::GenerationService::Service* inner_;
};

}  // namespace quarry::security

#endif  // QUARRY_SERVER_SECURITY_GUARDED_SERVICES_H_
