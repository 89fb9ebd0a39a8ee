// Helpers shared by the integration tests: a thin synchronous client over the generated stubs
// (every call carries a deadline), message builders, and status assertions that print the
// status code by name together with the server's message.
#ifndef QUARRY_TESTS_INTEGRATION_TEST_SUPPORT_H_
#define QUARRY_TESTS_INTEGRATION_TEST_SUPPORT_H_

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>

#include "quarry/v1/quarry.grpc.pb.h"
#include "tests/integration/server_process.h"

namespace quarry::testing {

namespace v1 = ::quarry::v1;

inline std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    default: return "CODE_" + std::to_string(static_cast<int>(code));
  }
}

inline std::string Describe(const grpc::Status& status) {
  return CodeName(status.error_code()) + ": " + status.error_message();
}

inline std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Every RPC in the tests gets a deadline, so a hung server fails the test instead of hanging it.
inline void SetDeadline(grpc::ClientContext& context,
                        std::chrono::seconds timeout = std::chrono::seconds(120)) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

// Polls `condition` until it holds or `timeout` passes: replicas pick up changes made by other
// processes on their refresh tick, so there is no event to wait for.
inline bool Eventually(const std::function<bool()>& condition,
                       std::chrono::seconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

// --- Message builders ----------------------------------------------------------------------

using Value = std::variant<std::string, double, bool>;

inline v1::MetadataValue ToProto(const Value& value) {
  v1::MetadataValue out;
  if (const auto* text = std::get_if<std::string>(&value)) {
    out.set_string_value(*text);
  } else if (const auto* number = std::get_if<double>(&value)) {
    out.set_number_value(*number);
  } else {
    out.set_bool_value(std::get<bool>(value));
  }
  return out;
}

inline v1::Document Doc(std::string id, std::string text, std::string title = "",
                        const std::map<std::string, Value>& metadata = {}) {
  v1::Document document;
  document.set_id(std::move(id));
  document.set_text(std::move(text));
  document.set_title(std::move(title));
  for (const auto& [key, value] : metadata) (*document.mutable_metadata())[key] = ToProto(value);
  return document;
}

inline v1::Document VectorDoc(std::string id, std::string text, std::vector<float> vector) {
  v1::Document document = Doc(std::move(id), std::move(text));
  for (float x : vector) document.add_vector(x);
  return document;
}

inline v1::SearchRequest TextQuery(std::string collection, std::string text,
                                   v1::SearchMode mode = v1::SEARCH_MODE_UNSPECIFIED,
                                   int top_k = 10) {
  v1::SearchRequest request;
  request.set_collection(std::move(collection));
  request.set_text(std::move(text));
  request.mutable_options()->set_mode(mode);
  request.mutable_options()->set_top_k(top_k);
  return request;
}

inline v1::SearchRequest VectorQuery(std::string collection, const std::vector<float>& vector,
                                     int top_k = 10) {
  v1::SearchRequest request;
  request.set_collection(std::move(collection));
  for (float x : vector) request.mutable_vector()->add_values(x);
  request.mutable_options()->set_top_k(top_k);
  return request;
}

// Filter builders.
inline v1::Filter Equals(std::string field, const Value& value) {
  v1::Filter filter;
  filter.mutable_equals()->set_field(std::move(field));
  *filter.mutable_equals()->mutable_value() = ToProto(value);
  return filter;
}

inline v1::Filter In(std::string field, const std::vector<Value>& values) {
  v1::Filter filter;
  filter.mutable_in()->set_field(std::move(field));
  for (const Value& value : values) *filter.mutable_in()->add_values() = ToProto(value);
  return filter;
}

// Range bounds, built fluently: Bounds().Gte(2000).Lt(2050).
struct Bounds {
  Bounds& Gt(double x) { gt = x; return *this; }
  Bounds& Gte(double x) { gte = x; return *this; }
  Bounds& Lt(double x) { lt = x; return *this; }
  Bounds& Lte(double x) { lte = x; return *this; }
  std::optional<double> gt, gte, lt, lte;
};

inline v1::Filter Range(std::string field, const Bounds& bounds) {
  v1::Filter filter;
  v1::FieldRange& range = *filter.mutable_range();
  range.set_field(std::move(field));
  if (bounds.gt) range.set_gt(*bounds.gt);
  if (bounds.gte) range.set_gte(*bounds.gte);
  if (bounds.lt) range.set_lt(*bounds.lt);
  if (bounds.lte) range.set_lte(*bounds.lte);
  return filter;
}

inline v1::Filter All(const std::vector<v1::Filter>& children) {
  v1::Filter filter;
  filter.mutable_all();
  for (const v1::Filter& child : children) *filter.mutable_all()->add_filters() = child;
  return filter;
}

inline v1::Filter Any(const std::vector<v1::Filter>& children) {
  v1::Filter filter;
  filter.mutable_any();
  for (const v1::Filter& child : children) *filter.mutable_any()->add_filters() = child;
  return filter;
}

inline v1::Filter Not(const v1::Filter& child) {
  v1::Filter filter;
  *filter.mutable_not_() = child;
  return filter;
}

// --- Client --------------------------------------------------------------------------------

class Client {
 public:
  explicit Client(const ServerProcess& server)
      : collections_(server.collections()),
        documents_(server.documents()),
        search_(server.search()) {}

  grpc::Status CreateCollection(const std::string& name, const v1::CollectionSpec& spec = {},
                                v1::Collection* out = nullptr) {
    v1::CreateCollectionRequest request;
    request.set_name(name);
    *request.mutable_spec() = spec;
    v1::Collection response;
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::Status status = collections_->CreateCollection(&context, request, &response);
    if (out != nullptr) *out = std::move(response);
    return status;
  }

  grpc::Status GetCollection(const std::string& name, v1::Collection* out = nullptr) {
    v1::GetCollectionRequest request;
    request.set_name(name);
    v1::Collection response;
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::Status status = collections_->GetCollection(&context, request, &response);
    if (out != nullptr) *out = std::move(response);
    return status;
  }

  grpc::Status ListCollections(v1::ListCollectionsResponse* out) {
    grpc::ClientContext context;
    SetDeadline(context);
    return collections_->ListCollections(&context, v1::ListCollectionsRequest(), out);
  }

  grpc::Status DeleteCollection(const std::string& name) {
    v1::DeleteCollectionRequest request;
    request.set_name(name);
    v1::DeleteCollectionResponse response;
    grpc::ClientContext context;
    SetDeadline(context);
    return collections_->DeleteCollection(&context, request, &response);
  }

  grpc::Status Ingest(const v1::IngestRequest& request, v1::IngestResponse* out = nullptr) {
    v1::IngestResponse response;
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::Status status = documents_->Ingest(&context, request, &response);
    if (out != nullptr) *out = std::move(response);
    return status;
  }

  grpc::Status Ingest(const std::string& collection, const std::vector<v1::Document>& documents,
                      v1::IngestResponse* out = nullptr) {
    v1::IngestRequest request;
    request.set_collection(collection);
    for (const v1::Document& document : documents) *request.add_documents() = document;
    return Ingest(request, out);
  }

  // Sends every message (stopping early if the server has already ended the stream) and
  // returns the final status.
  grpc::Status IngestStream(const std::vector<v1::IngestStreamRequest>& messages,
                            v1::IngestStreamResponse* out = nullptr,
                            std::chrono::seconds timeout = std::chrono::seconds(600)) {
    v1::IngestStreamResponse response;
    grpc::ClientContext context;
    SetDeadline(context, timeout);
    std::unique_ptr<grpc::ClientWriter<v1::IngestStreamRequest>> writer =
        documents_->IngestStream(&context, &response);
    for (const v1::IngestStreamRequest& message : messages) {
      if (!writer->Write(message)) break;
    }
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    if (out != nullptr) *out = std::move(response);
    return status;
  }

  grpc::Status DeleteDocuments(const std::string& collection, const std::vector<std::string>& ids,
                               v1::DeleteDocumentsResponse* out = nullptr) {
    v1::DeleteDocumentsRequest request;
    request.set_collection(collection);
    for (const std::string& id : ids) request.add_ids(id);
    v1::DeleteDocumentsResponse response;
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::Status status = documents_->DeleteDocuments(&context, request, &response);
    if (out != nullptr) *out = std::move(response);
    return status;
  }

  grpc::Status GetDocument(const std::string& collection, const std::string& id,
                           v1::Document* out = nullptr) {
    v1::GetDocumentRequest request;
    request.set_collection(collection);
    request.set_id(id);
    v1::Document response;
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::Status status = documents_->GetDocument(&context, request, &response);
    if (out != nullptr) *out = std::move(response);
    return status;
  }

  grpc::Status Search(const v1::SearchRequest& request, v1::SearchResponse* out = nullptr) {
    v1::SearchResponse response;
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::Status status = search_->Search(&context, request, &response);
    if (out != nullptr) *out = std::move(response);
    return status;
  }

 private:
  std::unique_ptr<v1::CollectionService::Stub> collections_;
  std::unique_ptr<v1::DocumentService::Stub> documents_;
  std::unique_ptr<v1::SearchService::Stub> search_;
};

// --- Result helpers ------------------------------------------------------------------------

inline std::vector<std::string> DocumentIds(const v1::SearchResponse& response) {
  std::vector<std::string> ids;
  for (const v1::SearchHit& hit : response.hits()) ids.push_back(hit.document_id());
  return ids;
}

inline std::vector<std::string> ChunkIds(const v1::SearchResponse& response) {
  std::vector<std::string> ids;
  for (const v1::SearchHit& hit : response.hits()) ids.push_back(hit.chunk_id());
  return ids;
}

inline bool Contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

inline std::string Join(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += values[i];
  }
  return out + "]";
}

}  // namespace quarry::testing

namespace Catch {
template <>
struct StringMaker<grpc::StatusCode> {
  static std::string convert(grpc::StatusCode code) { return quarry::testing::CodeName(code); }
};
}  // namespace Catch

// Assert a call's status code, printing the status (code name and message) on failure.
#define QUARRY_CHECK_STATUS(expression, expected_code)                                  \
  do {                                                                                  \
    const ::grpc::Status quarry_status_ = (expression);                                 \
    INFO("call: " #expression);                                                         \
    INFO("status: " << ::quarry::testing::Describe(quarry_status_));                    \
    CHECK(quarry_status_.error_code() == (expected_code));                              \
  } while (false)

#define QUARRY_REQUIRE_STATUS(expression, expected_code)                                \
  do {                                                                                  \
    const ::grpc::Status quarry_status_ = (expression);                                 \
    INFO("call: " #expression);                                                         \
    INFO("status: " << ::quarry::testing::Describe(quarry_status_));                    \
    REQUIRE(quarry_status_.error_code() == (expected_code));                            \
  } while (false)

#define REQUIRE_OK(expression) QUARRY_REQUIRE_STATUS(expression, ::grpc::StatusCode::OK)
#define CHECK_OK(expression) QUARRY_CHECK_STATUS(expression, ::grpc::StatusCode::OK)

#endif  // QUARRY_TESTS_INTEGRATION_TEST_SUPPORT_H_
