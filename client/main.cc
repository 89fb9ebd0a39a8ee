// quarry: the command-line client for a Quarry server. See kUsage below for what it does.
//
// Flags are absl flags, parsed by absl::ParseCommandLine; the first positional argument names
// the subcommand ("collections" takes a second word). Two things absl does not do are done
// here before it runs: --filter may be repeated (absl keeps only the last value of a flag), and
// usage errors (an unknown flag, a bad value, a flag the subcommand does not take) exit with
// status 2 and this tool's usage text rather than absl's status 1.
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/connection_flags.h"
#include "client/eval_command.h"
#include "client/bench_command.h"
#include "client/filter_expression.h"
#include "client/keys_command.h"
#include "client/quarry_client.h"
#include "client/search_mode.h"
#include "index/document.h"
#include "index/readers/document_reader.h"
#include "index/store/filesystem.h"
#include "quarry/v1/quarry.pb.h"

// Global.
ABSL_FLAG(std::string, address, "",
          "Server address HOST:PORT (default: $QUARRY_ADDRESS, else 127.0.0.1:50051)");
ABSL_FLAG(bool, json, false, "Print responses as JSON");
ABSL_FLAG(double, timeout, 0,
          "Per-call deadline in seconds (default 60; ingest --stream: no deadline)");
// Most subcommands.
ABSL_FLAG(std::string, collection, "", "Collection to act on");
// collections create.
ABSL_FLAG(int32_t, dimension, 0, "Vector dimension (0: the embedder's default)");
ABSL_FLAG(std::string, index_spec, "", "FAISS index factory string (default HNSW32)");
ABSL_FLAG(std::string, embedder, "", "builtin, openai or none (default: the server's)");
ABSL_FLAG(std::string, embedding_model, "", "Model name for --embedder openai");
ABSL_FLAG(std::string, metric, "", "ip (inner product, default) or l2");
ABSL_FLAG(int32_t, chunk_tokens, 0, "Target chunk size in tokens (0: 256)");
ABSL_FLAG(int32_t, chunk_overlap, 0, "Tokens shared by consecutive chunks (0: 32)");
// ingest.
ABSL_FLAG(int32_t, batch, 256, "Documents per Ingest request (or IngestStream message)");
ABSL_FLAG(int64_t, batch_bytes, 16 << 20,
          "Upper bound on a batch's encoded size; keep below the server's max_message_bytes");
ABSL_FLAG(bool, stream, false, "Send all batches over one IngestStream call");
// search and ask.
ABSL_FLAG(int32_t, k, 10, "Number of hits (search) or sources (ask; default: the server's)");
ABSL_FLAG(std::string, mode, "", "dense, lexical or hybrid (default: the server's)");
ABSL_FLAG(bool, rerank, false,
          "Rerank the fused hits with the server's reranker (the fused order is kept, with a "
          "note, when it has none or it fails)");
ABSL_FLAG(int32_t, rerank_candidates, 0,
          "With --rerank: fused hits the reranker scores (0: the server's default, max(k, 50))");
ABSL_FLAG(std::string, vector_file, "",
          "Search with this query vector (numbers separated by spaces or commas, or a JSON "
          "array) instead of text");
// ask.
ABSL_FLAG(std::string, model, "", "LLM to answer with (default: the server's)");
ABSL_FLAG(bool, extractive, false, "Answer extractively even when an LLM is configured");

namespace quarry::cli {
namespace {

namespace v1 = ::quarry::v1;
using client::CallOptions;
using client::QuarryClient;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

constexpr char kDefaultAddress[] = "127.0.0.1:50051";
constexpr size_t kSnippetBytes = 160;

constexpr char kUsage[] = R"(quarry: command-line client for a Quarry retrieval server.

Usage:
  quarry collections create NAME [--dimension N] [--index_spec S] [--metric ip|l2]
                                 [--embedder builtin|openai|none] [--embedding_model M]
                                 [--chunk_tokens N] [--chunk_overlap N]
  quarry collections list
  quarry collections get NAME
  quarry collections delete NAME
  quarry ingest --collection C [--batch N] [--batch_bytes B] [--stream] PATH...
  quarry search TEXT --collection C [--k N] [--mode dense|lexical|hybrid] [--filter EXPR]...
                     [--rerank [--rerank_candidates N]]
  quarry search --vector_file F --collection C [--k N] [--filter EXPR]...
  quarry get --collection C ID
  quarry health                      exit 0 if the server reports SERVING
  quarry delete --collection C ID...
  quarry ask QUESTION --collection C [--k N] [--model M] [--extractive]
                      [--mode dense|lexical|hybrid] [--filter EXPR]...
                      [--rerank [--rerank_candidates N]]
  quarry eval --collection C --queries FILE --qrels FILE [--run FILE] [--k N (100)]
              [--mode M] [--filter EXPR]... [--fusion rrf|weighted] [--rrf_k N]
              [--dense_weight W] [--candidates N] [--mmr_lambda L] [--bm25_k1 K] [--bm25_b B]
              [--ef_search N] [--nprobe N] [--max_chunks_per_document N (1)]
              [--feedback_documents N] [--feedback_terms N (20)]
              [--feedback_original_weight W (0.7)]
                      nDCG@10, Recall@10/100, MRR@10 and latency of Search over the queries
  quarry keys new                    print a new API key and its sha256 fingerprint
  quarry keys hash < KEYFILE         print the sha256 fingerprint of the key on stdin
  quarry bench SCENARIO ...          load generator and baseline (quarry bench --help)

Global flags:
  --address HOST:PORT  the server (default: $QUARRY_ADDRESS, else 127.0.0.1:50051)
  --json               print responses as JSON (ask: only the final result)
  --timeout SECONDS    per-call deadline (default 60; ingest --stream: no deadline)
  --api_key KEY        API key for servers that require one (default: $QUARRY_API_KEY)
  --tls                TLS, trusting the system's CAs ($QUARRY_TLS)
  --tls_ca_file F      TLS, trusting the CA in PEM file F ($QUARRY_TLS_CA_FILE)
  --tls_client_cert_file F --tls_client_key_file K
                       client certificate and key for mutual TLS
                       ($QUARRY_TLS_CLIENT_CERT_FILE, $QUARRY_TLS_CLIENT_KEY_FILE)
  --tls_server_name N  the name in the server's certificate, if not the address's host
  --helpfull           every flag with its default

Ingest reads JSONL files (one {"_id", "title", "text", "metadata", "vector"} object per
line), BEIR folders (holding corpus.jsonl), .txt and .md files (id: the path relative to the
folder given; title: the first "# heading"), and folders of these, recursively.

Filters (--filter, repeatable, ANDed):
  field=value    a number if it parses as one, true/false as a bool, else a string;
                 quote with '...' to force a string
  field!=value   not equal (also matches documents without the field)
  field=a|b|c    one of a set (field!=a|b|c: none of them)
  field>N  field>=N  field<N  field<=N

Exit status: 0 success, 1 an error from the server or the input, 2 a usage error.
)";

// The state every subcommand gets.
struct Context {
  QuarryClient* client = nullptr;
  bool json = false;
  CallOptions call;                            // the per-call deadline
  std::optional<absl::Duration> timeout;       // --timeout, when given
  std::vector<std::string> filters;            // every --filter, in order
  absl::flat_hash_set<std::string> flags_set;  // flags given on the command line
};

// ---------------------------------------------------------------------------------------------
// Errors and output.

int UsageError(absl::string_view message) {
  absl::FPrintF(stderr, "error: %s\n\n%s", message, kUsage);
  return kExitUsage;
}

int Fail(const absl::Status& status) {
  if (status.message().empty()) {
    absl::FPrintF(stderr, "error: %s\n", absl::StatusCodeToString(status.code()));
  } else {
    absl::FPrintF(stderr, "error: %s: %s\n", absl::StatusCodeToString(status.code()),
                  status.message());
  }
  return kExitError;
}

// "1 hit", "2 hits".
std::string Count(int64_t n, absl::string_view noun) {
  return absl::StrCat(n, " ", noun, n == 1 ? "" : "s");
}

bool PrintJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  // Field names as the .proto spells them, and zeros printed: a script reading "deleted"
  // should find 0, not a missing key.
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    absl::FPrintF(stderr, "error: INTERNAL: cannot print JSON: %s\n", status.ToString());
    return false;
  }
  absl::PrintF("%s\n", json);
  return true;
}

int PrintJsonOrFail(const google::protobuf::Message& message) {
  return PrintJson(message) ? kExitOk : kExitError;
}

std::string EmbedderName(v1::EmbedderKind kind) {
  switch (kind) {
    case v1::EMBEDDER_KIND_BUILTIN:
      return "builtin";
    case v1::EMBEDDER_KIND_OPENAI:
      return "openai";
    case v1::EMBEDDER_KIND_NONE:
      return "none";
    default:
      return "default";
  }
}

std::string MetricName(v1::Metric metric) {
  switch (metric) {
    case v1::METRIC_INNER_PRODUCT:
      return "inner product";
    case v1::METRIC_L2:
      return "L2";
    default:
      return "default";
  }
}

std::string ModeName(v1::SearchMode mode) {
  switch (mode) {
    case v1::SEARCH_MODE_DENSE:
      return "dense";
    case v1::SEARCH_MODE_LEXICAL:
      return "lexical";
    case v1::SEARCH_MODE_HYBRID:
      return "hybrid";
    default:
      return "default";
  }
}

std::string MetadataValueText(const v1::MetadataValue& value) {
  switch (value.kind_case()) {
    case v1::MetadataValue::kStringValue:
      return value.string_value();
    case v1::MetadataValue::kNumberValue:
      return absl::StrFormat("%g", value.number_value());
    case v1::MetadataValue::kBoolValue:
      return value.bool_value() ? "true" : "false";
    default:
      return "";
  }
}

// The text on one line: runs of whitespace collapsed to one space, cut to about kSnippetBytes
// at a UTF-8 character boundary.
std::string Snippet(absl::string_view text) {
  std::string line;
  line.reserve(std::min(text.size(), kSnippetBytes + 4));
  bool pending_space = false;
  for (char c : absl::StripAsciiWhitespace(text)) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      pending_space = true;
      continue;
    }
    if (pending_space) line.push_back(' ');
    pending_space = false;
    line.push_back(c);
    if (line.size() > kSnippetBytes) break;
  }
  if (line.size() <= kSnippetBytes) return line;
  size_t cut = kSnippetBytes;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
  line.resize(cut);
  return absl::StrCat(absl::StripTrailingAsciiWhitespace(line), "…");
}

// ---------------------------------------------------------------------------------------------
// Shared request building.

absl::StatusOr<std::string> RequiredCollection() {
  std::string collection = absl::GetFlag(FLAGS_collection);
  if (collection.empty()) return absl::InvalidArgumentError("--collection is required");
  return collection;
}

// Top-k, mode, reranking and filters, shared by search and ask. `top_k` 0 leaves the server's
// default.
absl::Status BuildRetrievalOptions(const Context& context, int32_t top_k,
                                   v1::RetrievalOptions* options) {
  if (top_k < 0 || (top_k == 0 && context.flags_set.contains("k"))) {
    return absl::InvalidArgumentError("--k must be at least 1");
  }
  options->set_top_k(top_k);
  absl::StatusOr<v1::SearchMode> mode = client::ParseSearchMode(absl::GetFlag(FLAGS_mode));
  if (!mode.ok()) return mode.status();
  options->set_mode(*mode);
  const int32_t candidates = absl::GetFlag(FLAGS_rerank_candidates);
  if (candidates < 0) return absl::InvalidArgumentError("--rerank_candidates must be at least 0");
  if (candidates > 0 && !absl::GetFlag(FLAGS_rerank)) {
    return absl::InvalidArgumentError("--rerank_candidates needs --rerank");
  }
  options->set_rerank(absl::GetFlag(FLAGS_rerank));
  options->set_rerank_candidates(candidates);
  if (!context.filters.empty()) {
    absl::StatusOr<v1::Filter> filter = client::ParseFilterExpressions(context.filters);
    if (!filter.ok()) return filter.status();
    *options->mutable_filter() = *std::move(filter);
  }
  return absl::OkStatus();
}

// A query vector file: numbers separated by whitespace or commas, optionally in [ ].
absl::StatusOr<std::vector<float>> ReadVectorFile(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (!contents.ok()) return contents.status();
  std::vector<float> values;
  for (absl::string_view token :
       absl::StrSplit(*contents, absl::ByAnyChar(" \t\r\n,[]"), absl::SkipEmpty())) {
    float value = 0;
    if (!absl::SimpleAtof(token, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": \"", token, "\" is not a number (value ", values.size() + 1, ")"));
    }
    values.push_back(value);
  }
  if (values.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no numbers"));
  return values;
}

// ---------------------------------------------------------------------------------------------
// collections create | list | get | delete

int CollectionsCreate(const Context& context, const std::vector<std::string>& args) {
  if (args.size() != 1) return UsageError("collections create takes one NAME");
  v1::CreateCollectionRequest request;
  request.set_name(args[0]);
  v1::CollectionSpec* spec = request.mutable_spec();
  spec->set_dimension(absl::GetFlag(FLAGS_dimension));
  spec->set_index_spec(absl::GetFlag(FLAGS_index_spec));
  spec->mutable_chunking()->set_target_tokens(absl::GetFlag(FLAGS_chunk_tokens));
  spec->mutable_chunking()->set_overlap_tokens(absl::GetFlag(FLAGS_chunk_overlap));

  const std::string embedder = absl::GetFlag(FLAGS_embedder);
  if (embedder == "builtin") {
    spec->mutable_embedder()->set_kind(v1::EMBEDDER_KIND_BUILTIN);
  } else if (embedder == "openai") {
    spec->mutable_embedder()->set_kind(v1::EMBEDDER_KIND_OPENAI);
  } else if (embedder == "none") {
    spec->mutable_embedder()->set_kind(v1::EMBEDDER_KIND_NONE);
  } else if (!embedder.empty()) {
    return UsageError(
        absl::StrCat("--embedder must be builtin, openai or none, not \"", embedder, "\""));
  }
  spec->mutable_embedder()->set_model(absl::GetFlag(FLAGS_embedding_model));

  const std::string metric = absl::GetFlag(FLAGS_metric);
  if (metric == "ip" || metric == "inner_product") {
    spec->set_metric(v1::METRIC_INNER_PRODUCT);
  } else if (metric == "l2") {
    spec->set_metric(v1::METRIC_L2);
  } else if (!metric.empty()) {
    return UsageError(absl::StrCat("--metric must be ip or l2, not \"", metric, "\""));
  }

  absl::StatusOr<v1::Collection> collection =
      context.client->CreateCollection(request, context.call);
  if (!collection.ok()) return Fail(collection.status());
  if (context.json) return PrintJsonOrFail(*collection);
  const v1::CollectionSpec& stored = collection->spec();
  absl::PrintF(
      "created collection %s (dimension %d, embedder %s, index %s, metric %s, chunks of %d "
      "tokens with %d overlap)\n",
      collection->name(), stored.dimension(), EmbedderName(stored.embedder().kind()),
      stored.index_spec(), MetricName(stored.metric()), stored.chunking().target_tokens(),
      stored.chunking().overlap_tokens());
  return kExitOk;
}

int CollectionsList(const Context& context, const std::vector<std::string>& args) {
  if (!args.empty()) return UsageError("collections list takes no arguments");
  absl::StatusOr<v1::ListCollectionsResponse> response =
      context.client->ListCollections({}, context.call);
  if (!response.ok()) return Fail(response.status());
  if (context.json) return PrintJsonOrFail(*response);
  if (response->collections().empty()) {
    absl::PrintF("no collections\n");
    return kExitOk;
  }
  size_t name_width = 4;
  for (const v1::Collection& collection : response->collections()) {
    name_width = std::max(name_width, collection.name().size());
  }
  const int width = static_cast<int>(name_width);
  absl::PrintF("%-*s  %10s  %10s  %5s  %-8s  %s\n", width, "NAME", "DOCUMENTS", "CHUNKS", "DIM",
               "EMBEDDER", "INDEX");
  for (const v1::Collection& collection : response->collections()) {
    absl::PrintF("%-*s  %10d  %10d  %5d  %-8s  %s\n", width, collection.name(),
                 collection.stats().documents(), collection.stats().chunks(),
                 collection.spec().dimension(), EmbedderName(collection.spec().embedder().kind()),
                 collection.spec().index_spec());
  }
  return kExitOk;
}

int CollectionsGet(const Context& context, const std::vector<std::string>& args) {
  if (args.size() != 1) return UsageError("collections get takes one NAME");
  v1::GetCollectionRequest request;
  request.set_name(args[0]);
  absl::StatusOr<v1::Collection> collection = context.client->GetCollection(request, context.call);
  if (!collection.ok()) return Fail(collection.status());
  if (context.json) return PrintJsonOrFail(*collection);

  const v1::CollectionSpec& spec = collection->spec();
  const v1::CollectionStats& stats = collection->stats();
  absl::PrintF("name:          %s\n", collection->name());
  absl::PrintF(
      "created:       %s\n",
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                       absl::FromUnixSeconds(collection->create_time_unix()), absl::UTCTimeZone()));
  absl::PrintF("dimension:     %d\n", spec.dimension());
  absl::PrintF("embedder:      %s%s\n", EmbedderName(spec.embedder().kind()),
               spec.embedder().model().empty() ? "" : " (" + spec.embedder().model() + ")");
  absl::PrintF("index:         %s, %s\n", spec.index_spec(), MetricName(spec.metric()));
  absl::PrintF("chunking:      %d tokens, %d overlap\n", spec.chunking().target_tokens(),
               spec.chunking().overlap_tokens());
  absl::PrintF("documents:     %d\n", stats.documents());
  absl::PrintF("chunks:        %d (%d fresh)\n", stats.chunks(), stats.fresh_chunks());
  absl::PrintF("text bytes:    %d\n", stats.text_bytes());
  absl::PrintF("disk bytes:    %d\n", stats.disk_bytes());
  absl::PrintF("shards:        %d (generation %d)\n", stats.shards(), stats.generation());
  return kExitOk;
}

int CollectionsDelete(const Context& context, const std::vector<std::string>& args) {
  if (args.size() != 1) return UsageError("collections delete takes one NAME");
  v1::DeleteCollectionRequest request;
  request.set_name(args[0]);
  absl::StatusOr<v1::DeleteCollectionResponse> response =
      context.client->DeleteCollection(request, context.call);
  if (!response.ok()) return Fail(response.status());
  if (context.json) return PrintJsonOrFail(*response);
  absl::PrintF("deleted collection %s\n", args[0]);
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------
// ingest

v1::Document ToProto(Document document) {
  v1::Document proto;
  proto.set_id(std::move(document.id));
  proto.set_title(std::move(document.title));
  proto.set_text(std::move(document.text));
  for (auto& [key, value] : document.metadata) {
    v1::MetadataValue& out = (*proto.mutable_metadata())[key];
    if (auto* text = std::get_if<std::string>(&value)) {
      out.set_string_value(std::move(*text));
    } else if (const double* number = std::get_if<double>(&value)) {
      out.set_number_value(*number);
    } else if (const bool* flag = std::get_if<bool>(&value)) {
      out.set_bool_value(*flag);
    }
  }
  proto.mutable_vector()->Assign(document.vector.begin(), document.vector.end());
  return proto;
}

// Reads the inputs into batches bounded by a document count and an encoded size. Two documents
// with the same id never share a batch: the server rejects that, and sending the later one in
// a later batch gives what a file with a repeated id means (the last one wins).
class Batcher {
 public:
  Batcher(std::vector<std::unique_ptr<DocumentReader>> readers, int max_documents,
          int64_t max_bytes)
      : readers_(std::move(readers)), max_documents_(max_documents), max_bytes_(max_bytes) {}

  // Replaces *documents with the next batch; false when the inputs are exhausted.
  absl::StatusOr<bool> Next(google::protobuf::RepeatedPtrField<v1::Document>* documents) {
    documents->Clear();
    absl::flat_hash_set<std::string> ids;
    int64_t bytes = 0;
    while (documents->size() < max_documents_) {
      v1::Document document;
      if (pending_.has_value()) {
        document = *std::move(pending_);
        pending_.reset();
      } else {
        absl::StatusOr<bool> more = ReadOne(&document);
        if (!more.ok()) return more.status();
        if (!*more) break;
      }
      const int64_t size = static_cast<int64_t>(document.ByteSizeLong());
      const bool repeated_id = !document.id().empty() && ids.contains(document.id());
      if (!documents->empty() && (repeated_id || bytes + size > max_bytes_)) {
        pending_ = std::move(document);
        break;
      }
      if (!document.id().empty()) ids.insert(document.id());
      bytes += size;
      *documents->Add() = std::move(document);
    }
    documents_ += documents->size();
    return !documents->empty();
  }

  uint64_t documents() const { return documents_; }
  uint64_t bytes_read() const {
    uint64_t bytes = 0;
    for (const auto& reader : readers_) bytes += reader->bytes_read();
    return bytes;
  }
  uint64_t total_bytes() const {
    uint64_t bytes = 0;
    for (const auto& reader : readers_) bytes += reader->total_bytes();
    return bytes;
  }
  uint64_t skipped() const {
    uint64_t skipped = 0;
    for (const auto& reader : readers_) skipped += reader->skipped();
    return skipped;
  }

 private:
  absl::StatusOr<bool> ReadOne(v1::Document* out) {
    Document document;
    while (current_ < readers_.size()) {
      absl::StatusOr<bool> more = readers_[current_]->Next(&document);
      if (!more.ok()) return more.status();
      if (*more) {
        *out = ToProto(std::move(document));
        return true;
      }
      ++current_;
    }
    return false;
  }

  std::vector<std::unique_ptr<DocumentReader>> readers_;
  size_t current_ = 0;
  const int max_documents_;
  const int64_t max_bytes_;
  std::optional<v1::Document> pending_;  // read, but did not fit in the previous batch
  uint64_t documents_ = 0;
};

// A one-line progress bar on stderr, drawn only when stderr is a terminal (a log file should
// not fill up with carriage returns).
class Progress {
 public:
  explicit Progress(uint64_t total_bytes)
      : enabled_(isatty(STDERR_FILENO) == 1), total_bytes_(total_bytes), start_(absl::Now()) {}

  void Update(uint64_t documents, uint64_t bytes) {
    if (!enabled_) return;
    const absl::Time now = absl::Now();
    if (now - last_draw_ < absl::Milliseconds(100)) return;
    last_draw_ = now;
    constexpr int kWidth = 30;
    const double fraction =
        total_bytes_ == 0 ? 0 : std::min(1.0, static_cast<double>(bytes) / total_bytes_);
    const int filled = static_cast<int>(fraction * kWidth);
    absl::FPrintF(stderr, "\r[%s%s] %3d%%  %d docs  %.0f docs/s\033[K", std::string(filled, '#'),
                  std::string(kWidth - filled, '.'), static_cast<int>(fraction * 100), documents,
                  Rate(documents));
    std::fflush(stderr);
  }

  // Erases the bar so that what follows starts on a clean line.
  void Clear() {
    if (enabled_ && last_draw_ != absl::InfinitePast()) absl::FPrintF(stderr, "\r\033[K");
  }

  double Seconds() const { return absl::ToDoubleSeconds(absl::Now() - start_); }
  double Rate(uint64_t documents) const {
    const double seconds = Seconds();
    return seconds > 0 ? static_cast<double>(documents) / seconds : 0;
  }

 private:
  const bool enabled_;
  const uint64_t total_bytes_;
  const absl::Time start_;
  absl::Time last_draw_ = absl::InfinitePast();
};

struct IngestTotals {
  uint64_t documents = 0;
  int64_t chunks = 0;
};

// One Ingest call per batch. On an error, says how far it got (everything before is stored).
absl::Status IngestUnary(const Context& context, const std::string& collection, Batcher* batcher,
                         Progress* progress, IngestTotals* totals) {
  v1::IngestRequest request;
  request.set_collection(collection);
  while (true) {
    absl::StatusOr<bool> more = batcher->Next(request.mutable_documents());
    if (!more.ok()) return more.status();
    if (!*more) return absl::OkStatus();
    absl::StatusOr<v1::IngestResponse> response = context.client->Ingest(request, context.call);
    if (!response.ok()) return response.status();
    totals->documents += static_cast<uint64_t>(request.documents_size());
    totals->chunks += response->chunks();
    progress->Update(totals->documents, batcher->bytes_read());
  }
}

// One IngestStream call for the whole load; its deadline is --timeout if given, else none
// (a bulk load takes as long as it takes).
absl::Status IngestStreaming(const Context& context, const std::string& collection,
                             Batcher* batcher, Progress* progress, IngestTotals* totals) {
  CallOptions call;
  call.timeout = context.timeout.value_or(absl::InfiniteDuration());
  absl::StatusOr<v1::IngestStreamResponse> response = context.client->IngestStream(
      [&](v1::IngestStreamRequest* message) -> absl::StatusOr<bool> {
        message->set_collection(collection);
        absl::StatusOr<bool> more = batcher->Next(message->mutable_documents());
        if (more.ok() && *more) progress->Update(batcher->documents(), batcher->bytes_read());
        return more;
      },
      call);
  if (!response.ok()) return response.status();
  totals->documents = static_cast<uint64_t>(response->documents());
  totals->chunks = response->chunks();
  return absl::OkStatus();
}

void PrintIngestSummary(const Context& context, const IngestTotals& totals, uint64_t skipped,
                        const Progress& progress) {
  const double seconds = progress.Seconds();
  if (context.json) {
    absl::PrintF("{\"documents\": %d, \"chunks\": %d, \"skipped\": %d, \"seconds\": %.3f}\n",
                 totals.documents, totals.chunks, skipped, seconds);
    return;
  }
  absl::PrintF("ingested %d documents (%d chunks) in %.1f s (%.0f docs/s)%s\n", totals.documents,
               totals.chunks, seconds, progress.Rate(totals.documents),
               skipped == 0
                   ? ""
                   : absl::StrCat("; skipped ", Count(static_cast<int64_t>(skipped), "document"),
                                  " without text"));
}

int Ingest(const Context& context, const std::vector<std::string>& args) {
  absl::StatusOr<std::string> collection = RequiredCollection();
  if (!collection.ok()) return UsageError(collection.status().message());
  if (args.empty()) return UsageError("ingest needs at least one PATH");
  const int32_t batch_size = absl::GetFlag(FLAGS_batch);
  const int64_t batch_bytes = absl::GetFlag(FLAGS_batch_bytes);
  if (batch_size < 1) return UsageError("--batch must be at least 1");
  if (batch_bytes < 1) return UsageError("--batch_bytes must be at least 1");

  // Open every input first, so that a mistyped path fails before anything is sent.
  std::vector<std::unique_ptr<DocumentReader>> readers;
  for (const std::string& path : args) {
    absl::StatusOr<std::unique_ptr<DocumentReader>> reader = DocumentReader::Open(path);
    if (!reader.ok()) return Fail(reader.status());
    readers.push_back(*std::move(reader));
  }
  Batcher batcher(std::move(readers), batch_size, batch_bytes);
  Progress progress(batcher.total_bytes());
  IngestTotals totals;
  const bool stream = absl::GetFlag(FLAGS_stream);
  const absl::Status status =
      stream ? IngestStreaming(context, *collection, &batcher, &progress, &totals)
             : IngestUnary(context, *collection, &batcher, &progress, &totals);
  progress.Clear();
  if (!status.ok()) {
    Fail(status);
    // A failed stream's message says how much the server committed; batches know it here.
    if (!stream && totals.documents > 0) {
      absl::FPrintF(stderr,
                    "note: %s ingested before the error; ingest upserts by id, so running the "
                    "same command again is safe\n",
                    Count(static_cast<int64_t>(totals.documents), "document"));
    }
    return kExitError;
  }
  PrintIngestSummary(context, totals, batcher.skipped(), progress);
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------
// search

void PrintHits(const v1::SearchResponse& response) {
  for (const std::string& notice : response.notices()) {
    absl::FPrintF(stderr, "note: %s\n", notice);
  }
  if (response.hits().empty()) {
    absl::PrintF("no hits (%s, %.1f ms)\n", ModeName(response.mode()),
                 response.timings().total_ms());
    return;
  }
  int rank = 0;
  for (const v1::SearchHit& hit : response.hits()) {
    ++rank;
    absl::PrintF("%3d. %8.4f  %s  %s\n", rank, hit.score(), hit.chunk_id(),
                 hit.title().empty() ? "(untitled)" : Snippet(hit.title()));
    if (!hit.text().empty()) absl::PrintF("      %s\n", Snippet(hit.text()));
  }
  absl::PrintF("%s (%s%s, %.1f ms)\n", Count(response.hits_size(), "hit"),
               ModeName(response.mode()), response.reranked() ? ", reranked" : "",
               response.timings().total_ms());
}

int Search(const Context& context, const std::vector<std::string>& args) {
  absl::StatusOr<std::string> collection = RequiredCollection();
  if (!collection.ok()) return UsageError(collection.status().message());
  v1::SearchRequest request;
  request.set_collection(*collection);

  const std::string vector_file = absl::GetFlag(FLAGS_vector_file);
  if (!vector_file.empty()) {
    if (!args.empty()) return UsageError("search takes TEXT or --vector_file, not both");
    absl::StatusOr<std::vector<float>> vector = ReadVectorFile(vector_file);
    if (!vector.ok()) return Fail(vector.status());
    request.mutable_vector()->mutable_values()->Assign(vector->begin(), vector->end());
  } else {
    // Words given unquoted are one query, as a user typing them means.
    if (args.empty()) return UsageError("search needs TEXT (or --vector_file)");
    request.set_text(absl::StrJoin(args, " "));
  }
  if (absl::Status status =
          BuildRetrievalOptions(context, absl::GetFlag(FLAGS_k), request.mutable_options());
      !status.ok()) {
    return UsageError(status.message());
  }

  absl::StatusOr<v1::SearchResponse> response = context.client->Search(request, context.call);
  if (!response.ok()) return Fail(response.status());
  if (context.json) return PrintJsonOrFail(*response);
  PrintHits(*response);
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------
// get, delete

// Exit 0 when the server reports SERVING, 1 otherwise: the container health probe.
int Health(const Context& context, const std::vector<std::string>& args) {
  if (!args.empty()) return UsageError("health takes no arguments");
  absl::StatusOr<bool> healthy = context.client->Healthy(context.call);
  if (!healthy.ok()) return Fail(healthy.status());
  absl::PrintF("%s\n", *healthy ? "SERVING" : "NOT_SERVING");
  return *healthy ? 0 : 1;
}

int Get(const Context& context, const std::vector<std::string>& args) {
  absl::StatusOr<std::string> collection = RequiredCollection();
  if (!collection.ok()) return UsageError(collection.status().message());
  if (args.size() != 1) return UsageError("get takes one document ID");
  v1::GetDocumentRequest request;
  request.set_collection(*collection);
  request.set_id(args[0]);
  absl::StatusOr<v1::Document> document = context.client->GetDocument(request, context.call);
  if (!document.ok()) return Fail(document.status());
  if (context.json) return PrintJsonOrFail(*document);

  absl::PrintF("id:       %s\n", document->id());
  if (!document->title().empty()) absl::PrintF("title:    %s\n", document->title());
  if (!document->metadata().empty()) {
    // Protobuf maps have no order; sort so that the output is stable.
    std::vector<std::pair<std::string, std::string>> entries;
    for (const auto& [key, value] : document->metadata()) {
      entries.emplace_back(key, MetadataValueText(value));
    }
    std::sort(entries.begin(), entries.end());
    absl::PrintF("metadata:\n");
    for (const auto& [key, value] : entries) absl::PrintF("  %s: %s\n", key, value);
  }
  absl::PrintF("\n%s%s", document->text(), absl::EndsWith(document->text(), "\n") ? "" : "\n");
  return kExitOk;
}

int Delete(const Context& context, const std::vector<std::string>& args) {
  absl::StatusOr<std::string> collection = RequiredCollection();
  if (!collection.ok()) return UsageError(collection.status().message());
  if (args.empty()) return UsageError("delete needs at least one document ID");
  v1::DeleteDocumentsRequest request;
  request.set_collection(*collection);
  for (const std::string& id : args) request.add_ids(id);
  absl::StatusOr<v1::DeleteDocumentsResponse> response =
      context.client->DeleteDocuments(request, context.call);
  if (!response.ok()) return Fail(response.status());
  if (context.json) return PrintJsonOrFail(*response);
  absl::PrintF("deleted %d of %d documents\n", response->deleted(), args.size());
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------
// ask

int Ask(const Context& context, const std::vector<std::string>& args) {
  absl::StatusOr<std::string> collection = RequiredCollection();
  if (!collection.ok()) return UsageError(collection.status().message());
  if (args.empty()) return UsageError("ask needs a QUESTION");
  v1::GenerateRequest request;
  request.set_collection(*collection);
  request.set_question(absl::StrJoin(args, " "));
  // Without --k the server picks how many sources fit its prompt budget.
  const int32_t top_k = context.flags_set.contains("k") ? absl::GetFlag(FLAGS_k) : 0;
  if (absl::Status status = BuildRetrievalOptions(context, top_k, request.mutable_retrieval());
      !status.ok()) {
    return UsageError(status.message());
  }
  request.mutable_generation()->set_model(absl::GetFlag(FLAGS_model));
  request.mutable_generation()->set_extractive(absl::GetFlag(FLAGS_extractive));

  // Stream the answer as it arrives; remember whether the line still needs ending.
  bool answer_started = false;
  bool ends_with_newline = true;
  absl::StatusOr<v1::GenerateResult> result = context.client->Generate(
      request,
      [&](const v1::GenerateResponse& event) {
        if (context.json || !event.has_delta() || event.delta().text().empty()) {
          return absl::OkStatus();
        }
        const std::string& text = event.delta().text();
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
        answer_started = true;
        ends_with_newline = text.back() == '\n';
        return absl::OkStatus();
      },
      context.call);
  if (answer_started && !ends_with_newline) absl::PrintF("\n");
  if (!result.ok()) return Fail(result.status());
  if (context.json) return PrintJsonOrFail(*result);

  if (!answer_started) absl::PrintF("%s\n", result->answer());
  if (!result->sources().empty()) {
    absl::PrintF("\nSources:\n");
    for (const v1::Source& source : result->sources()) {
      absl::PrintF("[%d] %s (doc %s, score %.4f)\n", source.number(),
                   source.title().empty() ? source.chunk_id() : Snippet(source.title()),
                   source.document_id(), source.score());
    }
  }
  return kExitOk;
}

// eval (client/eval_command.h): the shared search flags translated here, the rest there.
int Eval(const Context& context, const std::vector<std::string>& args) {
  absl::StatusOr<std::string> collection = RequiredCollection();
  if (!collection.ok()) return UsageError(collection.status().message());
  if (!args.empty()) return UsageError("eval takes no arguments");
  EvalRequest request{context.client, context.call, *collection, {}, context.flags_set,
                      context.json};
  const int32_t depth = context.flags_set.contains("k") ? absl::GetFlag(FLAGS_k) : kEvalDefaultDepth;
  absl::Status status = BuildRetrievalOptions(context, depth, &request.options);
  if (status.ok()) status = CheckEvalFlags(context.flags_set);
  if (!status.ok()) return UsageError(status.message());
  status = RunEval(request);
  return status.ok() ? kExitOk : Fail(status);
}

// ---------------------------------------------------------------------------------------------
// keys new | hash (no server involved)

int PrintOrFail(const absl::StatusOr<std::string>& output) {
  if (!output.ok()) return Fail(output.status());
  absl::PrintF("%s", *output);
  return kExitOk;
}

int KeysNewCommand(const Context&, const std::vector<std::string>& args) {
  if (!args.empty()) return UsageError("keys new takes no arguments");
  return PrintOrFail(KeysNew());
}

int KeysHashCommand(const Context&, const std::vector<std::string>& args) {
  if (!args.empty()) return UsageError("keys hash reads the key from stdin, not arguments");
  return PrintOrFail(KeysHash(std::cin));
}

// ---------------------------------------------------------------------------------------------
// Command line.

using CommandFunction = int (*)(const Context&, const std::vector<std::string>&);

struct Command {
  const char* name;                // "search", "collections create"
  std::vector<std::string> flags;  // the flags it takes, besides the global ones
  CommandFunction run;
};

const std::vector<Command>& Commands() {
  static const std::vector<Command>* const commands = new std::vector<Command>{
      {"collections create",
       {"dimension", "index_spec", "embedder", "embedding_model", "metric", "chunk_tokens",
        "chunk_overlap"},
       CollectionsCreate},
      {"collections list", {}, CollectionsList},
      {"collections get", {}, CollectionsGet},
      {"collections delete", {}, CollectionsDelete},
      {"ingest", {"collection", "batch", "batch_bytes", "stream"}, Ingest},
      {"search",
       {"collection", "k", "mode", "filter", "vector_file", "rerank", "rerank_candidates"},
       Search},
      {"get", {"collection"}, Get},
      {"health", {}, Health},
      {"delete", {"collection"}, Delete},
      {"ask",
       {"collection", "k", "mode", "filter", "model", "extractive", "rerank", "rerank_candidates"},
       Ask},
      {"eval", EvalFlagNames(), Eval},
      {"keys new", {}, KeysNewCommand},
      {"keys hash", {}, KeysHashCommand},
  };
  return *commands;
}

const std::vector<std::string>& GlobalFlags() {
  static const std::vector<std::string>* const flags = [] {
    auto* names = new std::vector<std::string>{"address", "json", "timeout"};
    names->insert(names->end(), ConnectionFlagNames().begin(), ConnectionFlagNames().end());
    return names;
  }();
  return *flags;
}

bool IsHelp(absl::string_view arg) {
  return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help";
}

// Splits "--name=value", "-name=value", "--name" and "-name" into name and optional value.
// False if `arg` is not a flag (a positional argument, "-" or "--").
bool SplitFlag(absl::string_view arg, std::string* name, std::optional<std::string>* value) {
  if (arg.size() < 2 || arg[0] != '-' || arg == "--") return false;
  arg.remove_prefix(arg[1] == '-' ? 2 : 1);
  const size_t equals = arg.find('=');
  *name = std::string(arg.substr(0, equals));
  if (equals == absl::string_view::npos) {
    value->reset();
  } else {
    *value = std::string(arg.substr(equals + 1));
  }
  return true;
}

// Removes every --filter from `args` (absl would keep only the last one) and returns their
// values in order.
absl::StatusOr<std::vector<std::string>> ExtractFilters(std::vector<std::string>* args) {
  std::vector<std::string> filters;
  std::vector<std::string> kept;
  for (size_t i = 0; i < args->size(); ++i) {
    const std::string& arg = (*args)[i];
    if (arg == "--") {
      kept.insert(kept.end(), args->begin() + static_cast<ptrdiff_t>(i), args->end());
      break;
    }
    std::string name;
    std::optional<std::string> value;
    if (i == 0 || !SplitFlag(arg, &name, &value) || name != "filter") {
      kept.push_back(arg);
      continue;
    }
    if (!value.has_value()) {
      if (i + 1 == args->size()) return absl::InvalidArgumentError("--filter needs a value");
      value = (*args)[++i];
    }
    filters.push_back(*std::move(value));
  }
  *args = std::move(kept);
  return filters;
}

// Checks every flag before absl parses them: the name must exist and the value must parse.
// absl would catch both too, but exit with status 1 and its own text; a usage error here is 2.
// Records the names given in *seen so that subcommands can tell "given" from "default".
absl::Status CheckFlags(const std::vector<std::string>& args,
                        absl::flat_hash_set<std::string>* seen) {
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--") break;
    std::string name;
    std::optional<std::string> value;
    if (!SplitFlag(args[i], &name, &value)) continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    // absl spells a false bool flag --nofoo.
    if (flag == nullptr && absl::StartsWith(name, "no") && !value.has_value()) {
      absl::CommandLineFlag* negated = absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        flag = negated;
        name = name.substr(2);
        value = "false";
      }
    }
    if (flag == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    if (!value.has_value()) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", error));
    }
    seen->insert(name);
  }
  return absl::OkStatus();
}

std::string ServerAddress() {
  std::string address = absl::GetFlag(FLAGS_address);
  if (!address.empty()) return address;
  const char* environment = std::getenv("QUARRY_ADDRESS");
  if (environment != nullptr && environment[0] != '\0') return environment;
  return kDefaultAddress;
}

int Run(int argc, char** argv) {
  absl::SetProgramUsageMessage("quarry: command-line client for a Quarry retrieval server");
  if (argc > 1 && absl::string_view(argv[1]) == "bench") return bench::RunBenchCommand(argc, argv);
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size() && args[i] != "--"; ++i) {
    if (IsHelp(args[i])) {
      absl::PrintF("%s", kUsage);
      return kExitOk;
    }
    if (args[i] == "--helpfull" || args[i] == "-helpfull") {
      // absl's listing of every flag with its default (the configuration reference is
      // checked against it); absl exits.
      std::vector<char*> helpfull = {argv[0], args[i].data()};
      absl::ParseCommandLine(2, helpfull.data());
    }
  }

  Context context;
  absl::StatusOr<std::vector<std::string>> filters = ExtractFilters(&args);
  if (!filters.ok()) return UsageError(filters.status().message());
  context.filters = *std::move(filters);
  if (!context.filters.empty()) context.flags_set.insert("filter");
  if (absl::Status status = CheckFlags(args, &context.flags_set); !status.ok()) {
    return UsageError(status.message());
  }

  // absl parses for real now that it cannot fail; it returns argv[0] and the positionals.
  std::vector<char*> absl_argv;
  absl_argv.reserve(args.size());
  for (std::string& arg : args) absl_argv.push_back(arg.data());
  const std::vector<char*> parsed =
      absl::ParseCommandLine(static_cast<int>(absl_argv.size()), absl_argv.data());
  std::vector<std::string> positional(parsed.begin() + 1, parsed.end());
  if (positional.empty()) return UsageError("missing command");

  std::string command_name = positional[0];
  size_t consumed = 1;
  if (command_name == "collections") {
    if (positional.size() < 2) return UsageError("collections needs create, list, get or delete");
    command_name = absl::StrCat("collections ", positional[1]);
    consumed = 2;
  } else if (command_name == "keys") {
    if (positional.size() < 2) return UsageError("keys needs new or hash");
    command_name = absl::StrCat("keys ", positional[1]);
    consumed = 2;
  }
  const auto& commands = Commands();
  auto command = std::find_if(commands.begin(), commands.end(),
                              [&](const Command& c) { return command_name == c.name; });
  if (command == commands.end()) {
    return UsageError(absl::StrCat("unknown command \"", command_name, "\""));
  }
  for (const std::string& flag : context.flags_set) {
    const bool allowed =
        std::find(GlobalFlags().begin(), GlobalFlags().end(), flag) != GlobalFlags().end() ||
        std::find(command->flags.begin(), command->flags.end(), flag) != command->flags.end();
    if (!allowed) {
      return UsageError(absl::StrCat("--", flag, " does not apply to \"", command_name, "\""));
    }
  }

  if (context.flags_set.contains("timeout")) {
    const double seconds = absl::GetFlag(FLAGS_timeout);
    if (!(seconds > 0)) return UsageError("--timeout must be a positive number of seconds");
    context.timeout = absl::Seconds(seconds);
    context.call.timeout = context.timeout;
  }
  context.json = absl::GetFlag(FLAGS_json);

  const std::vector<std::string> rest(positional.begin() + static_cast<ptrdiff_t>(consumed),
                                      positional.end());
  // `keys` talks to no server: a bad TLS setting in the environment must not stop it.
  if (absl::StartsWith(command_name, "keys ")) return command->run(context, rest);
  absl::StatusOr<client::ClientOptions> client_options = ClientOptionsFromFlags();
  if (!client_options.ok()) return Fail(client_options.status());
  absl::StatusOr<std::unique_ptr<QuarryClient>> client =
      QuarryClient::Create(ServerAddress(), *std::move(client_options));
  if (!client.ok()) return Fail(client.status());
  context.client = client->get();
  return command->run(context, rest);
}

}  // namespace
}  // namespace quarry::cli

int main(int argc, char** argv) {
  // As in quarry-server: Debian's abseil (built without NDEBUG) would otherwise record every
  // absl::Mutex lock, gRPC's included, in a process-wide graph under one global lock, which
  // cost the load generator ~4% of its CPU per call.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return quarry::cli::Run(argc, argv);
}
