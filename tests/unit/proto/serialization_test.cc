// grpc::SerializationTraits for the quarry.v1 requests (proto/quarry_serialization.h): a request
// that protobuf refuses to parse gets INVALID_ARGUMENT naming the string field with invalid
// UTF-8, or saying the bytes are malformed, instead of gRPC's INTERNAL with no message.
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "proto/quarry_serialization.h"
#include "quarry/v1/quarry.grpc.pb.h"

namespace quarry::v1 {
namespace {

const std::vector<std::string> kBadSequences = {"\xff\xfe",
                                                "truncated \xc3",
                                                "overlong \xc0\xaf",
                                                "surrogate \xed\xa0\x80",
                                                "beyond U+10FFFF \xf4\x90\x80\x80",
                                                "lone continuation \x80",
                                                "\xe2\x82"};

// A buffer of `bytes` split into slices of at most `slice_bytes` bytes.
grpc::ByteBuffer ToBuffer(const std::string& bytes, size_t slice_bytes = 0) {
  std::vector<grpc::Slice> slices;
  if (slice_bytes == 0) slice_bytes = bytes.size() + 1;
  for (size_t start = 0; start < bytes.size(); start += slice_bytes) {
    slices.emplace_back(bytes.substr(start, slice_bytes));
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

// The wire bytes of `message`, whatever its strings hold (protobuf serializes invalid UTF-8,
// logging an error, as a misbehaving client would send it).
template <class Message>
std::string Wire(const Message& message) {
  std::string wire;
  REQUIRE(message.SerializeToString(&wire));
  return wire;
}

template <class Message>
grpc::Status Parse(const std::string& wire, Message* out, size_t slice_bytes = 0) {
  grpc::ByteBuffer buffer = ToBuffer(wire, slice_bytes);
  return grpc::SerializationTraits<Message>::Deserialize(&buffer, out);
}

// The status of parsing `message` as sent.
template <class Message>
grpc::Status ParseSent(const Message& message) {
  Message parsed;
  return Parse(Wire(message), &parsed);
}

#define CHECK_INVALID(status_expression, expected_message)             \
  do {                                                                 \
    const grpc::Status status_ = (status_expression);                  \
    CHECK(status_.error_code() == grpc::StatusCode::INVALID_ARGUMENT); \
    CHECK(status_.error_message() == (expected_message));              \
  } while (false)

Document Doc(const std::string& id, const std::string& text) {
  Document document;
  document.set_id(id);
  document.set_text(text);
  return document;
}

IngestRequest ThreeDocuments() {
  IngestRequest request;
  request.set_collection("docs");
  *request.add_documents() = Doc("a", "Honey bees dance.");
  *request.add_documents() = Doc("b", "Lava flows \xc3\xa9 \xf0\x9d\x84\x9e \xf4\x8f\xbf\xbf.");
  *request.add_documents() = Doc("c", "Caf\xc3\xa9 au lait.");
  (*request.mutable_documents(1)->mutable_metadata())["lang"].set_string_value("fr");
  (*request.mutable_documents(1)->mutable_metadata())["year"].set_number_value(2021);
  request.mutable_documents(2)->set_title("T\xc3\xaete");
  return request;
}

TEST_CASE("Every request type of every service uses the diagnosing traits", "[serialization]") {
  using serialization::RequestSerializationTraits;
  static_assert(std::is_base_of_v<RequestSerializationTraits<IngestRequest>,
                                  grpc::SerializationTraits<IngestRequest>>);
  static_assert(std::is_base_of_v<RequestSerializationTraits<SearchRequest>,
                                  grpc::SerializationTraits<SearchRequest>>);
  static_assert(!std::is_base_of_v<RequestSerializationTraits<IngestResponse>,
                                   grpc::SerializationTraits<IngestResponse>>);
  // The synchronous unary handler as generated parses through the request type's traits.
  static_assert(
      std::is_base_of_v<
          grpc::internal::RpcMethodHandler<DocumentService::Service, IngestRequest, IngestResponse>,
          grpc::internal::RpcMethodHandler<DocumentService::Service, IngestRequest, IngestResponse,
                                           grpc::protobuf::MessageLite,
                                           grpc::protobuf::MessageLite>>);
  // Which request types have them, by name, against the services' methods.
  std::set<std::string> covered;
  auto add = [&covered]<class T>(const T*) {
    if (std::is_base_of_v<RequestSerializationTraits<T>, grpc::SerializationTraits<T>>) {
      covered.insert(T::descriptor()->full_name());
    }
  };
#define QUARRY_TEST_ADD(Type) add(static_cast<const Type*>(nullptr));
  QUARRY_V1_REQUEST_TYPES(QUARRY_TEST_ADD)
#undef QUARRY_TEST_ADD
  std::set<std::string> inputs;
  const google::protobuf::FileDescriptor* file = IngestRequest::descriptor()->file();
  for (int s = 0; s < file->service_count(); ++s) {
    for (int m = 0; m < file->service(s)->method_count(); ++m) {
      inputs.insert(file->service(s)->method(m)->input_type()->full_name());
    }
  }
  CHECK(covered == inputs);
}

TEST_CASE("A valid request round-trips", "[serialization]") {
  const IngestRequest request = ThreeDocuments();
  grpc::ByteBuffer buffer;
  bool own_buffer = false;
  REQUIRE(grpc::SerializationTraits<IngestRequest>::Serialize(request, &buffer, &own_buffer).ok());
  CHECK(own_buffer);
  IngestRequest parsed;
  REQUIRE(grpc::SerializationTraits<IngestRequest>::Deserialize(&buffer, &parsed).ok());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(parsed, request));
  CHECK(parsed.documents(1).metadata().at("lang").string_value() == "fr");

  // From many small slices too (the buffer is read through gRPC's stream reader).
  IngestRequest sliced;
  REQUIRE(Parse(Wire(request), &sliced, 3).ok());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(sliced, request));

  // Unknown fields are no reason to fail, whatever their bytes.
  std::string with_unknown = Wire(request);
  with_unknown += std::string("\xa2\x06\x02\xff\xfe", 5);  // field 100, length-delimited
  IngestRequest lenient;
  CHECK(Parse(with_unknown, &lenient).ok());

  ListCollectionsRequest empty;
  CHECK(Parse("", &empty).ok());
}

TEST_CASE("Invalid UTF-8 in a document names the document and field", "[serialization]") {
  for (const std::string& bad : kBadSequences) {
    INFO("bad bytes: " << IngestRequest::descriptor()->full_name() << " " << bad.size());
    IngestRequest text = ThreeDocuments();
    text.mutable_documents(2)->set_text("Valid text. " + bad);
    CHECK_INVALID(ParseSent(text), "documents[2].text: is not valid UTF-8");

    IngestRequest title = ThreeDocuments();
    title.mutable_documents(0)->set_title("Title " + bad);
    CHECK_INVALID(ParseSent(title), "documents[0].title: is not valid UTF-8");

    IngestRequest id = ThreeDocuments();
    id.mutable_documents(1)->set_id("id " + bad);
    CHECK_INVALID(ParseSent(id), "documents[1].id: is not valid UTF-8");

    IngestRequest value = ThreeDocuments();
    (*value.mutable_documents(1)->mutable_metadata())["lang"].set_string_value("value " + bad);
    CHECK_INVALID(ParseSent(value),
                  "documents[1].metadata['lang'].string_value: is not valid UTF-8");

    IngestRequest key = ThreeDocuments();
    (*key.mutable_documents(0)->mutable_metadata())["key " + bad].set_bool_value(true);
    CHECK_INVALID(ParseSent(key), "documents[0].metadata: a key is not valid UTF-8");

    IngestRequest collection = ThreeDocuments();
    collection.set_collection("docs" + bad);
    CHECK_INVALID(ParseSent(collection), "collection: is not valid UTF-8");

    IngestStreamRequest stream;
    stream.set_collection("docs");
    *stream.add_documents() = Doc("s", "Streamed " + bad);
    CHECK_INVALID(ParseSent(stream), "documents[0].text: is not valid UTF-8");
  }
}

TEST_CASE("The first invalid string in wire order is named", "[serialization]") {
  IngestRequest request = ThreeDocuments();
  request.mutable_documents(1)->set_title("bad \xff");
  request.mutable_documents(2)->set_text("bad \xff");
  CHECK_INVALID(ParseSent(request), "documents[1].title: is not valid UTF-8");
  // Metadata keys are quoted as valid UTF-8 with quotes and control characters escaped.
  IngestRequest quoted = ThreeDocuments();
  (*quoted.mutable_documents(0)->mutable_metadata())["it's \xc3\xa9\n"].set_string_value("\xff");
  CHECK_INVALID(ParseSent(quoted),
                "documents[0].metadata['it\\'s \xc3\xa9\\n'].string_value: is not valid UTF-8");
  IngestRequest long_key = ThreeDocuments();
  (*long_key.mutable_documents(0)->mutable_metadata())[std::string(70, 'k')].set_string_value(
      "\xff");
  CHECK_INVALID(ParseSent(long_key), "documents[0].metadata['" + std::string(64, 'k') +
                                         "...'].string_value: is not valid UTF-8");
}

TEST_CASE("Invalid UTF-8 in a search request, its filter and its options", "[serialization]") {
  SearchRequest query;
  query.set_collection("docs");
  query.set_text("bees \xc0\xaf");
  CHECK_INVALID(ParseSent(query), "text: is not valid UTF-8 (oneof query)");

  SearchRequest equals;
  equals.set_collection("docs");
  equals.set_text("bees");
  FilterList* all = equals.mutable_options()->mutable_filter()->mutable_all();
  all->add_filters()->mutable_range()->set_field("year");
  all->mutable_filters(0)->mutable_range()->set_gt(2000);
  FieldEquals* field_equals = all->add_filters()->mutable_equals();
  field_equals->set_field("lang");
  field_equals->mutable_value()->set_string_value("fr \xed\xa0\x80");
  CHECK_INVALID(ParseSent(equals),
                "options.filter.all.filters[1].equals.value.string_value: is not valid UTF-8");

  SearchRequest in;
  in.set_text("bees");
  Filter* negated = in.mutable_options()->mutable_filter()->mutable_not_()->mutable_not_();
  FieldIn* field_in = negated->mutable_any()->add_filters()->mutable_in();
  field_in->set_field("lang");
  field_in->add_values()->set_string_value("en");
  field_in->add_values()->set_number_value(1);
  field_in->add_values()->set_string_value("\xff");
  CHECK_INVALID(ParseSent(in),
                "options.filter.not.not.any.filters[0].in.values[2].string_value: is not valid "
                "UTF-8");

  SearchRequest field;
  field.set_text("bees");
  field.mutable_options()->mutable_filter()->mutable_range()->set_field("ye\xffr");
  CHECK_INVALID(ParseSent(field), "options.filter.range.field: is not valid UTF-8");

  SearchRequest collection;
  collection.set_collection("d\xffocs");
  collection.set_text("bees");
  CHECK_INVALID(ParseSent(collection), "collection: is not valid UTF-8");
}

TEST_CASE("Invalid UTF-8 in the other requests", "[serialization]") {
  CreateCollectionRequest create;
  create.set_name("new \xff");
  CHECK_INVALID(ParseSent(create), "name: is not valid UTF-8");
  CreateCollectionRequest spec;
  spec.set_name("new");
  spec.mutable_spec()->set_index_spec("HNSW32");
  spec.mutable_spec()->mutable_prompt_templates()->set_system("Be brief \xff");
  CHECK_INVALID(ParseSent(spec), "spec.prompt_templates.system: is not valid UTF-8");

  GetCollectionRequest get;
  get.set_name("\xc3");
  CHECK_INVALID(ParseSent(get), "name: is not valid UTF-8");
  DeleteCollectionRequest remove;
  remove.set_name("\xc3");
  CHECK_INVALID(ParseSent(remove), "name: is not valid UTF-8");

  DeleteDocumentsRequest ids;
  ids.set_collection("docs");
  ids.add_ids("a");
  ids.add_ids("b\xff");
  CHECK_INVALID(ParseSent(ids), "ids[1]: is not valid UTF-8");
  GetDocumentRequest document;
  document.set_collection("docs");
  document.set_id("\xff");
  CHECK_INVALID(ParseSent(document), "id: is not valid UTF-8");

  GenerateRequest question;
  question.set_collection("docs");
  question.set_question("Why? \xff");
  CHECK_INVALID(ParseSent(question), "question: is not valid UTF-8");
  GenerateRequest history;
  history.set_question("Why?");
  history.add_history()->set_content("Earlier.");
  history.add_history()->set_content("Later \xff");
  CHECK_INVALID(ParseSent(history), "history[1].content: is not valid UTF-8");
  GenerateRequest stop;
  stop.set_question("Why?");
  stop.mutable_generation()->add_stop("\n\n");
  stop.mutable_generation()->add_stop("END\xff");
  CHECK_INVALID(ParseSent(stop), "generation.stop[1]: is not valid UTF-8");
  GenerateRequest filter;
  filter.set_question("Why?");
  filter.mutable_retrieval()->mutable_filter()->mutable_equals()->set_field("\xff");
  CHECK_INVALID(ParseSent(filter), "retrieval.filter.equals.field: is not valid UTF-8");
}

TEST_CASE("Bytes that are not a protobuf message are malformed", "[serialization]") {
  const std::string malformed =
      "request is not a valid quarry.v1.IngestRequest: malformed protobuf";
  IngestRequest parsed;
  CHECK_INVALID(Parse(std::string("\xff\xff\xff\xff", 4), &parsed), malformed);
  CHECK_INVALID(Parse(std::string("\x00\x01", 2), &parsed), malformed);         // field number 0
  CHECK_INVALID(Parse(std::string("\x12\x05", 2) + "ab", &parsed), malformed);  // truncated
  const std::string wire = Wire(ThreeDocuments());
  CHECK_INVALID(Parse(wire.substr(0, wire.size() - 3), &parsed), malformed);
  CHECK_INVALID(Parse(std::string("\x0f", 1), &parsed), malformed);  // wire type 7
  CHECK_INVALID(Parse(std::string("\x0c", 1), &parsed), malformed);  // stray end group

  SearchRequest search;
  CHECK_INVALID(Parse(std::string("\xff\xff", 2), &search),
                "request is not a valid quarry.v1.SearchRequest: malformed protobuf");

  // Invalid UTF-8 is named even when another part of the request is malformed.
  std::string both = Wire(ThreeDocuments());
  both += std::string("\x12\x03\x0a\x01\xff", 5);  // documents[3] = {id: "\xff"}
  both += std::string("\x12\x02\x0a\x05", 4);      // documents[4]: a truncated id
  CHECK_INVALID(Parse(both, &parsed), "documents[3].id: is not valid UTF-8");
}

TEST_CASE("Nesting beyond protobuf's recursion limit is malformed", "[serialization]") {
  SearchRequest deep;
  deep.set_text("bees");
  Filter* filter = deep.mutable_options()->mutable_filter();
  for (int i = 0; i < 150; ++i) filter = filter->mutable_not_();
  filter->mutable_equals()->set_field("lang");
  SearchRequest parsed;
  CHECK_INVALID(Parse(Wire(deep), &parsed),
                "request is not a valid quarry.v1.SearchRequest: malformed protobuf");

  // Within the limit, a string deep down is found.
  SearchRequest nested;
  nested.set_text("bees");
  filter = nested.mutable_options()->mutable_filter();
  std::string path = "options.filter";
  for (int i = 0; i < 40; ++i) {
    filter = filter->mutable_not_();
    path += ".not";
  }
  filter->mutable_equals()->set_field("\xff");
  CHECK_INVALID(Parse(Wire(nested), &parsed), path + ".equals.field: is not valid UTF-8");
}

TEST_CASE("Corrupted requests never crash and are OK or INVALID_ARGUMENT", "[serialization]") {
  SearchRequest search;
  search.set_collection("docs");
  search.set_text("honey bees");
  search.mutable_options()
      ->mutable_filter()
      ->mutable_all()
      ->add_filters()
      ->mutable_equals()
      ->mutable_value()
      ->set_string_value("fr");
  const std::vector<std::string> wires = {Wire(ThreeDocuments()), Wire(search)};
  std::mt19937 random(12345);
  for (int round = 0; round < 3000; ++round) {
    std::string wire = wires[round % wires.size()];
    const int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits && !wire.empty(); ++e) {
      const size_t at = random() % wire.size();
      switch (random() % 3) {
        case 0:
          wire[at] = static_cast<char>(random() & 0xFF);
          break;
        case 1:
          wire.erase(at, 1);
          break;
        default:
          wire.insert(at, 1, static_cast<char>(random() & 0xFF));
          break;
      }
    }
    grpc::Status status;
    if (round % 2 == 0) {
      IngestRequest parsed;
      status = Parse(wire, &parsed, 1 + round % 7);
    } else {
      SearchRequest parsed;
      status = Parse(wire, &parsed, 1 + round % 7);
    }
    INFO("round " << round);
    CHECK((status.ok() || status.error_code() == grpc::StatusCode::INVALID_ARGUMENT));
    CHECK((status.ok() || !status.error_message().empty()));
  }
}

// A stand-in for grpc::ServerReader: its Read deserializes what it is given, as gRPC's does.
class FakeReader {
 public:
  explicit FakeReader(std::vector<std::string> messages) : messages_(std::move(messages)) {}
  bool Read(IngestStreamRequest* request) {
    if (next_ == messages_.size()) return false;
    return Parse(messages_[next_++], request).ok();
  }

 private:
  std::vector<std::string> messages_;
  size_t next_ = 0;
};

TEST_CASE("ReadRequest tells a bad stream message from the end of the stream", "[serialization]") {
  IngestStreamRequest good;
  good.set_collection("docs");
  *good.add_documents() = Doc("a", "Fine.");
  IngestStreamRequest bad = good;
  bad.mutable_documents(0)->set_title("\xff");

  // An earlier failure on this thread is not taken for this stream's.
  IngestRequest unrelated;
  CHECK_FALSE(Parse("\xff", &unrelated).ok());

  FakeReader clean({Wire(good), Wire(good)});
  IngestStreamRequest request;
  grpc::Status status(grpc::StatusCode::UNKNOWN, "not set");
  int read = 0;
  while (serialization::ReadRequest(clean, &request, &status)) ++read;
  CHECK(read == 2);
  CHECK(status.ok());

  FakeReader broken({Wire(good), Wire(bad), Wire(good)});
  read = 0;
  while (serialization::ReadRequest(broken, &request, &status)) ++read;
  CHECK(read == 1);
  CHECK_INVALID(status, "documents[0].title: is not valid UTF-8");
}

// --- Through gRPC: an in-process server whose handlers never see a bad request -------------------

class Documents final : public DocumentService::Service {
 public:
  grpc::Status Ingest(grpc::ServerContext*, const IngestRequest* request,
                      IngestResponse* response) override {
    for (const Document& document : request->documents()) response->add_ids(document.id());
    return grpc::Status::OK;
  }

  grpc::Status IngestStream(grpc::ServerContext*, grpc::ServerReader<IngestStreamRequest>* reader,
                            IngestStreamResponse* response) override {
    IngestStreamRequest request;
    grpc::Status status;
    while (serialization::ReadRequest(*reader, &request, &status)) {
      response->set_documents(response->documents() + request.documents_size());
    }
    return status;
  }
};

class Generation final : public GenerationService::Service {
 public:
  grpc::Status Generate(grpc::ServerContext*, const GenerateRequest*,
                        grpc::ServerWriter<GenerateResponse>* writer) override {
    GenerateResponse response;
    response.mutable_result()->set_answer("42");
    writer->Write(response);
    return grpc::Status::OK;
  }
};

TEST_CASE("A gRPC server answers INVALID_ARGUMENT naming the field", "[serialization][grpc]") {
  Documents documents;
  Generation generation;
  grpc::ServerBuilder builder;
  builder.RegisterService(&documents);
  builder.RegisterService(&generation);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  REQUIRE(server != nullptr);
  std::shared_ptr<grpc::Channel> channel = server->InProcessChannel(grpc::ChannelArguments());
  std::unique_ptr<DocumentService::Stub> stub = DocumentService::NewStub(channel);

  {
    grpc::ClientContext context;
    IngestResponse response;
    CHECK(stub->Ingest(&context, ThreeDocuments(), &response).ok());
    CHECK(response.ids_size() == 3);
  }
  {
    IngestRequest bad = ThreeDocuments();
    bad.mutable_documents(2)->set_text("caf\xc3");
    grpc::ClientContext context;
    IngestResponse response;
    CHECK_INVALID(stub->Ingest(&context, bad, &response), "documents[2].text: is not valid UTF-8");
  }
  {
    IngestStreamRequest good;
    good.set_collection("docs");
    *good.add_documents() = Doc("a", "Fine.");
    IngestStreamRequest bad = good;
    (*bad.mutable_documents(0)->mutable_metadata())["lang"].set_string_value("\xff");
    grpc::ClientContext context;
    IngestStreamResponse response;
    std::unique_ptr<grpc::ClientWriter<IngestStreamRequest>> writer =
        stub->IngestStream(&context, &response);
    writer->Write(good);
    writer->Write(bad);
    writer->Write(good);
    writer->WritesDone();
    CHECK_INVALID(writer->Finish(),
                  "documents[0].metadata['lang'].string_value: is not valid UTF-8");
  }
  {
    std::unique_ptr<GenerationService::Stub> generate = GenerationService::NewStub(channel);
    GenerateRequest bad;
    bad.set_question("Why \xed\xa0\x80?");
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<GenerateResponse>> reader =
        generate->Generate(&context, bad);
    GenerateResponse response;
    CHECK_FALSE(reader->Read(&response));
    CHECK_INVALID(reader->Finish(), "question: is not valid UTF-8");
  }
  server->Shutdown();
}

}  // namespace
}  // namespace quarry::v1
