// Translation between quarry.v1 protobuf messages and the core's own types. Everything that
// crosses the wall between server/ and index/ goes through here; validation of values lives
// in the core, this layer only rejects what has no core equivalent (e.g. an unset oneof).
#ifndef QUARRY_SERVER_PROTO_CONVERT_H_
#define QUARRY_SERVER_PROTO_CONVERT_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "index/collection.h"
#include "index/collection_config.h"
#include "index/document.h"
#include "index/search/filter.h"
#include "quarry/v1/quarry.pb.h"

namespace quarry::server {

absl::StatusOr<CollectionConfig> ConfigFromProto(const std::string& name,
                                                 const v1::CollectionSpec& spec);
v1::Collection CollectionToProto(const CollectionConfig& config,
                                 const CollectionStatistics& statistics);

// `field` names the document in error messages, e.g. "documents[3]".
absl::StatusOr<Document> DocumentFromProto(v1::Document document, absl::string_view field);
v1::Document StoredDocumentToProto(const StoredDocument& document);

absl::StatusOr<Filter> FilterFromProto(const v1::Filter& filter, absl::string_view path = "filter");

// Fills the query's options (not its text or vector) from RetrievalOptions.
absl::Status ApplyRetrievalOptions(const v1::RetrievalOptions& options, SearchQuery& query);

v1::SearchMode SearchModeToProto(SearchMode mode);
void HitToProto(const Hit& hit, bool include_text, v1::SearchHit& out);

}  // namespace quarry::server

#endif  // QUARRY_SERVER_PROTO_CONVERT_H_
