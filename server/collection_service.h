// CollectionService: create, list, get and delete collections of the catalog.
#ifndef QUARRY_SERVER_COLLECTION_SERVICE_H_
#define QUARRY_SERVER_COLLECTION_SERVICE_H_

#include "index/catalog.h"
#include "quarry/v1/quarry.grpc.pb.h"

namespace quarry::server {

class CollectionServiceImpl final : public v1::CollectionService::Service {
 public:
  explicit CollectionServiceImpl(Catalog* catalog) : catalog_(catalog) {}

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
  Catalog* catalog_;
};

}  // namespace quarry::server

#endif  // QUARRY_SERVER_COLLECTION_SERVICE_H_
