// gRPC (de)serialization of the quarry.v1 request messages.
//
// gRPC parses a request with the generic protobuf SerializationTraits before any handler runs,
// and a proto3 string field holding invalid UTF-8 makes that parse fail: the caller would get
// INTERNAL with an empty message. The explicit specializations below (full specializations win
// over gRPC's partial one for MessageLite subclasses) parse exactly like gRPC does and, only when
// that fails, diagnose the bytes against the message's schema:
//   INVALID_ARGUMENT "documents[2].text: is not valid UTF-8"
//   INVALID_ARGUMENT "documents[0].metadata['lang'].string_value: is not valid UTF-8"
//   INVALID_ARGUMENT "request is not a valid quarry.v1.IngestRequest: malformed protobuf"
//
// The generated code registers synchronous unary methods with
// RpcMethodHandler<Service, Request, Response, MessageLite, MessageLite>, which parses through
// SerializationTraits<MessageLite> (one instantiation shared by every message type), so it would
// miss these traits; a partial specialization of that handler below sends quarry.v1 requests
// through their own traits. Streaming, callback and async methods use the request type's traits
// directly.
//
// Every translation unit that can instantiate these templates for these types must see this
// header before doing so (an explicit specialization declared after an implicit instantiation
// is ill-formed). proto/CMakeLists.txt generates quarry.grpc.pb.h with the grpc_cpp_plugin
// option additional_header_includes=proto/quarry_serialization.h, so the generated header
// includes this one right after quarry.pb.h, ahead of all gRPC code: every stub, service and
// method handler (including those instantiated in quarry.grpc.pb.cc) uses them. Code that only
// includes quarry.pb.h and calls gRPC's generic API with these types must include this header
// (or quarry.grpc.pb.h) itself.
#ifndef QUARRY_PROTO_QUARRY_SERIALIZATION_H_
#define QUARRY_PROTO_QUARRY_SERIALIZATION_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/serialization_traits.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/method_handler.h>
#include <grpcpp/support/proto_buffer_writer.h>
#include <grpcpp/support/status.h>

#include <string_view>
#include <type_traits>

#include "quarry/v1/quarry.pb.h"

namespace quarry::v1::serialization {

// Parses `buffer` into `message` as gRPC's protobuf deserializer does (and, like it, clears
// `buffer`). A buffer that does not parse gives INVALID_ARGUMENT: DescribeParseFailure's status.
grpc::Status DeserializeRequest(grpc::ByteBuffer* buffer, google::protobuf::Message* message);

// Why `wire`, which protobuf failed to parse as a `type` message, is invalid: INVALID_ARGUMENT
// "<path>: is not valid UTF-8" for the first proto3 string field (in wire order, depth first)
// holding invalid UTF-8, else INVALID_ARGUMENT "request is not a valid <type>: malformed
// protobuf". Paths: `documents[2].text`, `ids[1]`, `documents[0].metadata['lang'].string_value`
// (map entries by key), `options.filter.all.filters[1].equals.value.string_value`; a map key
// that is itself invalid: "documents[0].metadata: a key is not valid UTF-8". A field of a oneof
// declared in `type` itself is followed by the oneof's name: "text: is not valid UTF-8 (oneof
// query)". Only proto3 strings are checked, as protobuf only checks those.
grpc::Status DescribeParseFailure(std::string_view wire, const google::protobuf::Descriptor& type);

// For client-streaming handlers (synchronous API). ServerReader::Read returns false both at the
// end of the stream and when a message fails to parse, and gRPC drops the parse status; this
// tells them apart. Returns true with the next message in `*request`; false at the end of the
// stream, with `*status` OK, or for a message that failed to parse, with `*status` its error:
//
//   while (serialization::ReadRequest(*reader, &request, &status)) { ... }
//   if (!status.ok()) return status;
//
// It relies on the synchronous API deserializing on the thread that calls Read (gRPC's
// CompletionQueue::Pluck finalizes the operation there); with the callback or async API it
// would report every failure as the end of the stream, as Read does.
void ClearLastRequestError();
grpc::Status TakeLastRequestError();

template <class Reader, class Request>
bool ReadRequest(Reader& reader, Request* request, grpc::Status* status) {
  ClearLastRequestError();
  if (reader.Read(request)) {
    *status = grpc::Status::OK;
    return true;
  }
  *status = TakeLastRequestError();
  return false;
}

// The traits themselves: serialization as gRPC's own protobuf traits, parsing with a diagnosis.
template <class Request>
class RequestSerializationTraits {
 public:
  static grpc::Status Serialize(const Request& message, grpc::ByteBuffer* buffer,
                                bool* own_buffer) {
    return grpc::GenericSerialize<grpc::ProtoBufferWriter, Request>(message, buffer, own_buffer);
  }

  static grpc::Status Deserialize(grpc::ByteBuffer* buffer, Request* message) {
    return DeserializeRequest(buffer, message);
  }
};

// The request messages of every quarry.v1 method (X-macro: X(Type) for each).
#define QUARRY_V1_REQUEST_TYPES(X) \
  X(CreateCollectionRequest)       \
  X(ListCollectionsRequest)        \
  X(GetCollectionRequest)          \
  X(DeleteCollectionRequest)       \
  X(IngestRequest)                 \
  X(IngestStreamRequest)           \
  X(DeleteDocumentsRequest)        \
  X(GetDocumentRequest)            \
  X(SearchRequest)                 \
  X(GenerateRequest)

// Whether T is one of them (and so has RequestSerializationTraits).
template <class T>
inline constexpr bool kIsDiagnosedRequest = false;
#define QUARRY_V1_DIAGNOSED_REQUEST(Type) \
  template <>                             \
  inline constexpr bool kIsDiagnosedRequest<::quarry::v1::Type> = true;
QUARRY_V1_REQUEST_TYPES(QUARRY_V1_DIAGNOSED_REQUEST)
#undef QUARRY_V1_DIAGNOSED_REQUEST

}  // namespace quarry::v1::serialization

namespace grpc {

#define QUARRY_V1_REQUEST_TRAITS(Type)                \
  template <>                                         \
  class SerializationTraits<::quarry::v1::Type, void> \
      : public ::quarry::v1::serialization::RequestSerializationTraits<::quarry::v1::Type> {};
QUARRY_V1_REQUEST_TYPES(QUARRY_V1_REQUEST_TRAITS)
#undef QUARRY_V1_REQUEST_TRAITS

namespace internal {

// The synchronous unary handler as generated (parsing through SerializationTraits<MessageLite>)
// becomes, for the requests above, the handler parsing through the request type's own traits.
template <class ServiceType, class RequestType, class ResponseType>
requires ::quarry::v1::serialization::kIsDiagnosedRequest<RequestType>
class RpcMethodHandler<ServiceType, RequestType, ResponseType, grpc::protobuf::MessageLite,
                       grpc::protobuf::MessageLite>
    : public RpcMethodHandler<ServiceType, RequestType, ResponseType> {
 public:
  using Handler = RpcMethodHandler<ServiceType, RequestType, ResponseType>;
  using Handler::Handler;
};

}  // namespace internal
}  // namespace grpc

#endif  // QUARRY_PROTO_QUARRY_SERIALIZATION_H_
