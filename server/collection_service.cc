#include "server/collection_service.h"

#include "server/proto_convert.h"
#include "server/status_convert.h"
#include "spdlog/spdlog.h"

namespace quarry::server {

grpc::Status CollectionServiceImpl::CreateCollection(grpc::ServerContext* context,
                                                     const v1::CreateCollectionRequest* request,
                                                     v1::Collection* response) {
  absl::StatusOr<CollectionConfig> config = ConfigFromProto(request->name(), request->spec());
  if (!config.ok()) return ToGrpcStatus(config.status());
  absl::StatusOr<std::shared_ptr<Collection>> collection = catalog_->Create(*std::move(config));
  if (!collection.ok()) return ToGrpcStatus(collection.status());
  spdlog::info("msg=\"collection created\" collection={} dimension={} index_spec={}",
               (*collection)->config().name, (*collection)->config().dimension,
               (*collection)->config().index_spec);
  *response = CollectionToProto((*collection)->config(), (*collection)->Statistics());
  return grpc::Status::OK;
}

grpc::Status CollectionServiceImpl::ListCollections(grpc::ServerContext* context,
                                                    const v1::ListCollectionsRequest* request,
                                                    v1::ListCollectionsResponse* response) {
  for (const std::shared_ptr<Collection>& collection : catalog_->List()) {
    *response->add_collections() =
        CollectionToProto(collection->config(), collection->Statistics());
  }
  return grpc::Status::OK;
}

grpc::Status CollectionServiceImpl::GetCollection(grpc::ServerContext* context,
                                                  const v1::GetCollectionRequest* request,
                                                  v1::Collection* response) {
  absl::StatusOr<std::shared_ptr<Collection>> collection = catalog_->Get(request->name());
  if (!collection.ok()) return ToGrpcStatus(collection.status());
  *response = CollectionToProto((*collection)->config(), (*collection)->Statistics());
  return grpc::Status::OK;
}

grpc::Status CollectionServiceImpl::DeleteCollection(grpc::ServerContext* context,
                                                     const v1::DeleteCollectionRequest* request,
                                                     v1::DeleteCollectionResponse* response) {
  if (absl::Status status = catalog_->Delete(request->name()); !status.ok()) {
    return ToGrpcStatus(status);
  }
  spdlog::info("msg=\"collection deleted\" collection={}", request->name());
  return grpc::Status::OK;
}

}  // namespace quarry::server
