#include "client/bench_command.h"

#include <faiss/IVFlib.h>
#include <faiss/Index.h>
#include <faiss/IndexIVF.h>
#include <faiss/index_factory.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "client/bench_baseline.h"
#include "client/bench_load.h"
#include "client/search_mode.h"
#include "index/document.h"
#include "index/readers/document_reader.h"
#include "index/readers/npy_file.h"
#include "quarry/v1/quarry.grpc.pb.h"

// Shared with the other subcommands (defined in main.cc).
ABSL_DECLARE_FLAG(std::string, address);
ABSL_DECLARE_FLAG(std::string, collection);
ABSL_DECLARE_FLAG(int32_t, k);
ABSL_DECLARE_FLAG(std::string, mode);
ABSL_DECLARE_FLAG(std::string, index_spec);
ABSL_DECLARE_FLAG(int32_t, batch);

ABSL_FLAG(std::vector<std::string>, clients, std::vector<std::string>({"1", "2"}),
          "bench: concurrent calls in flight, one run per value (and baseline threads)");
ABSL_FLAG(double, rate, 0, "bench: start calls at this rate per second (0: closed loop)");
ABSL_FLAG(double, duration_seconds, 10, "bench: measured seconds per run");
ABSL_FLAG(double, warmup_seconds, 2, "bench: seconds run before measuring");
ABSL_FLAG(int32_t, repeats, 1,
          "bench search-vector: alternate baseline and server runs this many times per clients "
          "value and report medians (steadier on a shared machine)");
ABSL_FLAG(std::string, vectors_npy, "", "bench load-vectors: float32 .npy, one row per document");
ABSL_FLAG(int64_t, rows, 0, "bench load-vectors: first rows to ingest (0: all)");
ABSL_FLAG(std::string, queries_npy, "", "bench search-vector: float32 .npy query vectors");
ABSL_FLAG(std::string, truth_npy, "",
          "bench search-vector: int64 .npy exact neighbour rows (document ids) per query");
ABSL_FLAG(std::string, baseline_shard, "",
          "bench search-vector: shard directory whose FAISS index is the in-process baseline");
ABSL_FLAG(int32_t, baseline_ef_search, 128,
          "bench search-vector: HNSW efSearch of the baseline (the server's default is 128)");
ABSL_FLAG(bool, baseline_huge_pages, false,
          "bench search-vector: collapse the baseline's index to huge pages, as the server does "
          "for the shards it serves");
ABSL_FLAG(bool, baseline_quarry_hnsw_search, false,
          "bench search-vector: search an HNSW-flat baseline with the server's own HNSW loop "
          "(faster than FAISS's IndexHNSW::search), so that the ratio is the service's overhead "
          "alone");
ABSL_FLAG(int32_t, server_pid, 0,
          "bench search-vector: the server's process id (same host), to report its CPU time per "
          "query next to the in-process baseline's");
ABSL_FLAG(std::string, queries_jsonl, "",
          "bench search-text/generate: queries as JSONL ({\"_id\", \"text\"}, BEIR layout)");
ABSL_FLAG(int32_t, build_threads, 2, "bench faiss-build: OpenMP threads for training and adding");
ABSL_FLAG(std::string, documents_path, "",
          "bench ingest: documents (JSONL, BEIR folder, text/markdown) to ingest");

namespace quarry::bench {
namespace {

namespace v1 = ::quarry::v1;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr absl::Duration kCallTimeout = absl::Seconds(60);

constexpr char kBenchUsage[] = R"(quarry bench: load generator and in-process baseline.

Usage:
  quarry bench load-vectors --collection C --vectors_npy F [--rows N] [--index_spec S]
                            [--batch N] [--clients N]
      creates C (embedder none, dimension of F) unless it exists, and ingests row i of F as
      document "i" (text "v<i>"); reports documents/s
  quarry bench search-vector --collection C --queries_npy Q --truth_npy T [--k 10]
                             [--baseline_shard DIR [--baseline_ef_search 128]
                              [--baseline_huge_pages] [--baseline_quarry_hnsw_search]]
                             [--repeats N]
      Search by vector; recall@k against T; with --baseline_shard, the same shard's FAISS index
      searched in this process on as many threads as clients, and the ratios
      (--baseline_quarry_hnsw_search: HNSW-flat searched with the server's own loop); --repeats
      alternates the two N times and adds a row of medians
  quarry bench search-text --collection C --queries_jsonl F [--mode dense|lexical|hybrid]
      Search by text; also the server's embedding share of its search time
  quarry bench faiss-build --vectors_npy F [--rows N] [--index_spec S] [--build_threads 2]
      FAISS alone (no server, no collection): index_factory, train on the first
      256 x nlist rows (IVF; as many as Quarry's builds sample), add every row; the reference
      for quarry-indexer's bulk build rate
  quarry bench ingest --collection C --documents_path P [--batch N]
      Ingest of the documents, in batches, ids suffixed per run so each call writes
  quarry bench generate --collection C --queries_jsonl F
      Generate (streamed) for each query in turn

Load flags (every scenario):
  --clients 1,2           concurrent calls in flight; one run per value (default 1,2)
  --rate R                open loop: start R calls/s (capped at --clients in flight)
  --duration_seconds S    measured seconds per run (default 10)
  --warmup_seconds S      unmeasured seconds before (default 2)
  --address HOST:PORT     the server (default: $QUARRY_ADDRESS, else 127.0.0.1:50051)
)";

int UsageError(absl::string_view message) {
  absl::FPrintF(stderr, "error: %s\n\n%s", message, kBenchUsage);
  return kExitUsage;
}

int Fail(const absl::Status& status) {
  absl::FPrintF(stderr, "error: %s\n", status.ToString());
  return kExitError;
}

// One channel per client, each with its own connection (gRPC would otherwise share one
// subchannel between channels with equal arguments).
std::vector<std::shared_ptr<grpc::Channel>> Channels(int count) {
  std::string address = absl::GetFlag(FLAGS_address);
  if (address.empty()) {
    const char* environment = std::getenv("QUARRY_ADDRESS");
    address = environment != nullptr && environment[0] != '\0' ? environment : "127.0.0.1:50051";
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    arguments.SetMaxReceiveMessageSize(64 << 20);
    channels.push_back(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments));
  }
  return channels;
}

// A unary call: Prepare makes the reader on the given queue; its response is kept.
template <typename Response>
class UnaryCall : public PendingCall {
 public:
  using Prepare = std::function<std::unique_ptr<grpc::ClientAsyncResponseReader<Response>>(
      grpc::ClientContext*, grpc::CompletionQueue*)>;
  explicit UnaryCall(Prepare prepare) : prepare_(std::move(prepare)) {}

  void Start(grpc::CompletionQueue* queue) override {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    reader_ = prepare_(&context_, queue);
    reader_->StartCall();
    reader_->Finish(&response_, &status_, this);
  }
  bool Proceed(bool) override { return true; }
  const grpc::Status& status() const override { return status_; }
  const Response& response() const { return response_; }

 private:
  Prepare prepare_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader_;
  Response response_;
  grpc::Status status_;
};

// Generate: start, read every streamed message, finish. Keeps the final result.
class GenerateCall : public PendingCall {
 public:
  GenerateCall(v1::GenerationService::Stub* stub, v1::GenerateRequest request)
      : stub_(stub), request_(std::move(request)) {}

  void Start(grpc::CompletionQueue* queue) override {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    reader_ = stub_->PrepareAsyncGenerate(&context_, request_, queue);
    reader_->StartCall(this);
  }
  bool Proceed(bool ok) override {
    switch (step_) {
      case Step::kStarting:
      case Step::kReading:
        if (step_ == Step::kReading && ok && message_.has_result()) result_ = message_.result();
        if (ok) {
          step_ = Step::kReading;
          reader_->Read(&message_, this);
        } else {
          step_ = Step::kFinishing;
          reader_->Finish(&status_, this);
        }
        return false;
      case Step::kFinishing:
        return true;
    }
    return true;
  }
  const grpc::Status& status() const override { return status_; }
  const v1::GenerateResult& result() const { return result_; }

 private:
  enum class Step { kStarting, kReading, kFinishing };
  v1::GenerationService::Stub* stub_;
  v1::GenerateRequest request_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientAsyncReader<v1::GenerateResponse>> reader_;
  v1::GenerateResponse message_;
  v1::GenerateResult result_;
  Step step_ = Step::kStarting;
  grpc::Status status_;
};

absl::StatusOr<std::vector<int>> ClientCounts() {
  std::vector<int> counts;
  for (const std::string& value : absl::GetFlag(FLAGS_clients)) {
    int count = 0;
    if (!absl::SimpleAtoi(value, &count) || count < 1 || count > 4096) {
      return absl::InvalidArgumentError(absl::StrCat("--clients: bad count \"", value, "\""));
    }
    counts.push_back(count);
  }
  if (counts.empty()) return absl::InvalidArgumentError("--clients is empty");
  return counts;
}

LoadOptions Options(int clients) {
  LoadOptions options;
  options.concurrency = clients;
  options.rate = absl::GetFlag(FLAGS_rate);
  options.duration = absl::Seconds(absl::GetFlag(FLAGS_duration_seconds));
  options.warmup = absl::Seconds(absl::GetFlag(FLAGS_warmup_seconds));
  return options;
}

std::string LatencyColumns(LatencySummary& latency) {
  return absl::StrFormat("%8.3f %8.3f %8.3f %8.3f", latency.Quantile(0.5), latency.Quantile(0.9),
                         latency.Quantile(0.99), latency.Quantile(0.999));
}

constexpr char kHeader[] = "%-34s %7s %10s %8s %8s %8s %8s %9s %s\n";

void PrintHeader() {
  absl::PrintF(kHeader, "run", "clients", "QPS", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "recall",
               "notes");
}

void PrintRow(absl::string_view name, int clients, double qps, LatencySummary& latency,
              const std::string& recall, const std::string& notes) {
  absl::PrintF("%-34s %7d %10.1f %s %9s %s\n", name, clients, qps, LatencyColumns(latency), recall,
               notes);
  std::fflush(stdout);
}

std::string LoadNotes(const LoadResult& result) {
  if (result.failed == 0) return "";
  return absl::StrCat(result.failed, " failed (first: ", result.first_error, ")");
}

// recall@k of `hits` (document ids) against the first k exact neighbours of `row`.
double Recall(const std::vector<std::string>& hits, const NpyMatrix<int64_t>& truth, int64_t row,
              int k) {
  const int64_t depth = std::min<int64_t>(k, truth.columns);
  int found = 0;
  for (int64_t j = 0; j < depth; ++j) {
    const std::string id = absl::StrCat(truth.row(row)[j]);
    if (std::find(hits.begin(), hits.begin() + std::min<size_t>(hits.size(), k), id) !=
        hits.begin() + std::min<size_t>(hits.size(), k)) {
      ++found;
    }
  }
  return depth > 0 ? static_cast<double>(found) / static_cast<double>(depth) : 0;
}

// Mean recall over the queries that have hits recorded.
std::string MeanRecall(const std::vector<std::vector<std::string>>& hits,
                       const std::vector<bool>& seen, const NpyMatrix<int64_t>& truth, int k) {
  double sum = 0;
  int64_t counted = 0;
  for (size_t row = 0; row < hits.size(); ++row) {
    if (!seen[row]) continue;
    sum += Recall(hits[row], truth, static_cast<int64_t>(row), k);
    ++counted;
  }
  return counted == 0 ? "-" : absl::StrFormat("%.4f", sum / static_cast<double>(counted));
}

absl::StatusOr<std::vector<std::string>> ReadQueryTexts(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("--queries_jsonl is required");
  absl::StatusOr<std::unique_ptr<DocumentReader>> reader = DocumentReader::Open(path);
  if (!reader.ok()) return reader.status();
  std::vector<std::string> texts;
  Document document;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&document);
    if (!more.ok()) return more.status();
    if (!*more) break;
    texts.push_back(document.text);
  }
  if (texts.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " holds no queries"));
  return texts;
}

// An Ingest or Search call on `stub` (which outlives it).
std::unique_ptr<PendingCall> AsyncIngest(v1::DocumentService::Stub* stub,
                                         v1::IngestRequest request) {
  return std::make_unique<UnaryCall<v1::IngestResponse>>(
      [stub, request = std::move(request)](grpc::ClientContext* context,
                                           grpc::CompletionQueue* queue) {
        return stub->PrepareAsyncIngest(context, request, queue);
      });
}

std::unique_ptr<PendingCall> AsyncSearch(v1::SearchService::Stub* stub, v1::SearchRequest request) {
  return std::make_unique<UnaryCall<v1::SearchResponse>>(
      [stub, request = std::move(request)](grpc::ClientContext* context,
                                           grpc::CompletionQueue* queue) {
        return stub->PrepareAsyncSearch(context, request, queue);
      });
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

int LoadVectors(const std::string& collection, const std::vector<int>& clients) {
  const std::string path = absl::GetFlag(FLAGS_vectors_npy);
  if (path.empty()) return UsageError("load-vectors needs --vectors_npy");
  absl::StatusOr<NpyMatrix<float>> vectors = ReadNpyFloat32(path);
  if (!vectors.ok()) return Fail(vectors.status());
  const int64_t rows = absl::GetFlag(FLAGS_rows) > 0
                           ? std::min(absl::GetFlag(FLAGS_rows), vectors->rows)
                           : vectors->rows;
  const int batch = std::max(1, absl::GetFlag(FLAGS_batch));
  const int in_flight = clients.back();
  std::vector<std::shared_ptr<grpc::Channel>> channels = Channels(in_flight);

  v1::CollectionService::Stub collections(channels[0]);
  v1::GetCollectionRequest get;
  get.set_name(collection);
  grpc::ClientContext get_context;
  v1::Collection existing;
  if (!collections.GetCollection(&get_context, get, &existing).ok()) {
    v1::CreateCollectionRequest create;
    create.set_name(collection);
    create.mutable_spec()->set_dimension(static_cast<int32_t>(vectors->columns));
    create.mutable_spec()->mutable_embedder()->set_kind(v1::EMBEDDER_KIND_NONE);
    create.mutable_spec()->set_index_spec(absl::GetFlag(FLAGS_index_spec));
    grpc::ClientContext create_context;
    v1::Collection created;
    grpc::Status status = collections.CreateCollection(&create_context, create, &created);
    if (!status.ok()) {
      return Fail(
          absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message()));
    }
  }

  std::vector<std::unique_ptr<v1::DocumentService::Stub>> stubs;
  for (const auto& channel : channels) stubs.push_back(v1::DocumentService::NewStub(channel));
  LoadOptions options;
  options.concurrency = in_flight;
  options.duration = absl::Hours(24);
  options.warmup = absl::ZeroDuration();
  options.max_calls = (rows + batch - 1) / batch;
  const LoadResult result = RunLoad(
      options,
      [&](int64_t sequence) {
        v1::IngestRequest request;
        request.set_collection(collection);
        const int64_t first = sequence * batch;
        for (int64_t row = first; row < std::min(rows, first + batch); ++row) {
          v1::Document* document = request.add_documents();
          document->set_id(absl::StrCat(row));
          document->set_text(absl::StrCat("v", row));
          document->mutable_vector()->Add(vectors->row(row), vectors->row(row) + vectors->columns);
        }
        return AsyncIngest(stubs[sequence % stubs.size()].get(), std::move(request));
      },
      nullptr);
  absl::PrintF(
      "load-vectors: %d of %d rows in %.1f s: %.0f documents/s (%d per call, %d in "
      "flight)%s\n",
      result.succeeded * batch >= rows ? rows : result.succeeded * batch, rows, result.seconds,
      std::min<double>(rows, result.succeeded * batch) / result.seconds, batch, in_flight,
      result.failed > 0 ? " " + LoadNotes(result) : "");
  return result.failed == 0 ? kExitOk : kExitError;
}

// CPU seconds (user + system) this process has used.
double OwnCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// CPU seconds (user + system) process `pid` has used, from /proc; 0 when unreadable.
double ProcessCpuSeconds(int pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return 0;
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  const std::vector<std::string> fields =
      absl::StrSplit(absl::string_view(line).substr(close + 2), ' ');
  double utime = 0;
  double stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtod(fields[11], &utime) ||
      !absl::SimpleAtod(fields[12], &stime)) {
    return 0;
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

struct VectorSearchRun {
  LoadResult load;
  int64_t calls_started = 0;                   // warm-up included
  std::vector<std::vector<std::string>> hits;  // per query row (first answer), document ids
  std::vector<bool> seen;
};

// One load run of dense Search by vector, one channel per client; recall from each query's
// first answer.
VectorSearchRun SearchByVectorLoad(const std::string& collection, const NpyMatrix<float>& queries,
                                   int k, const LoadOptions& options) {
  std::vector<std::shared_ptr<grpc::Channel>> channels = Channels(options.concurrency);
  std::vector<std::unique_ptr<v1::SearchService::Stub>> stubs;
  for (const auto& channel : channels) stubs.push_back(v1::SearchService::NewStub(channel));
  VectorSearchRun run;
  run.hits.resize(static_cast<size_t>(queries.rows));
  run.seen.resize(run.hits.size());
  run.load = RunLoad(
      options,
      [&](int64_t sequence) {
        run.calls_started = sequence + 1;
        v1::SearchRequest request;
        request.set_collection(collection);
        const float* row = queries.row(sequence % queries.rows);
        request.mutable_vector()->mutable_values()->Add(row, row + queries.columns);
        request.mutable_options()->set_top_k(k);
        request.mutable_options()->set_mode(v1::SEARCH_MODE_DENSE);
        request.set_omit_text(true);
        return AsyncSearch(stubs[sequence % stubs.size()].get(), std::move(request));
      },
      [&](int64_t sequence, const PendingCall& call) {
        const size_t row = static_cast<size_t>(sequence % queries.rows);
        if (run.seen[row]) return;
        run.seen[row] = true;
        for (const v1::SearchHit& hit :
             static_cast<const UnaryCall<v1::SearchResponse>&>(call).response().hits()) {
          run.hits[row].push_back(hit.document_id());
        }
      });
  return run;
}

int SearchVector(const std::string& collection, const std::vector<int>& clients) {
  if (absl::GetFlag(FLAGS_queries_npy).empty() || absl::GetFlag(FLAGS_truth_npy).empty()) {
    return UsageError("search-vector needs --queries_npy and --truth_npy");
  }
  absl::StatusOr<NpyMatrix<float>> queries = ReadNpyFloat32(absl::GetFlag(FLAGS_queries_npy));
  if (!queries.ok()) return Fail(queries.status());
  absl::StatusOr<NpyMatrix<int64_t>> truth = ReadNpyInt64(absl::GetFlag(FLAGS_truth_npy));
  if (!truth.ok()) return Fail(truth.status());
  if (truth->rows != queries->rows) {
    return Fail(absl::InvalidArgumentError("queries and ground truth differ in rows"));
  }
  const int k = absl::GetFlag(FLAGS_k);
  std::unique_ptr<ShardBaseline> baseline;
  if (!absl::GetFlag(FLAGS_baseline_shard).empty()) {
    BaselineOptions options;
    options.ef_search = absl::GetFlag(FLAGS_baseline_ef_search);
    options.huge_pages = absl::GetFlag(FLAGS_baseline_huge_pages);
    options.quarry_hnsw_search = absl::GetFlag(FLAGS_baseline_quarry_hnsw_search);
    absl::StatusOr<std::unique_ptr<ShardBaseline>> opened = ShardBaseline::Open(
        absl::GetFlag(FLAGS_baseline_shard), static_cast<int>(queries->columns), options);
    if (!opened.ok()) return Fail(opened.status());
    baseline = *std::move(opened);
    absl::PrintF("baseline: %s\n", baseline->Describe());
    if (const double floor = baseline->ScanFloorMilliseconds(); floor > 0) {
      absl::PrintF("memory-bandwidth floor: %.3f ms CPU to read every vector once (1 thread)\n",
                   floor);
    }
  }
  absl::PrintF("server: %s collection %s, %d queries, k=%d, %s\n", absl::GetFlag(FLAGS_address),
               collection, queries->rows, k,
               absl::GetFlag(FLAGS_rate) > 0
                   ? absl::StrCat("open loop at ", absl::GetFlag(FLAGS_rate), " calls/s")
                   : "closed loop");
  PrintHeader();

  bool failed = false;
  const int repeats = std::max(1, absl::GetFlag(FLAGS_repeats));
  for (const int count : clients) {
    const LoadOptions options = Options(count);
    std::vector<double> server_qps, server_p99, baseline_qps, baseline_p99, qps_ratio, p99_ratio;
    std::vector<double> server_p50, baseline_p50, server_cpu_ms, baseline_cpu_ms;
    for (int repeat = 0; repeat < repeats; ++repeat) {
      std::optional<ShardBaseline::Result> in_process;
      if (baseline != nullptr) {
        // Warm the same way as the server run, then measure.
        baseline->Run(*queries, k, count, options.warmup);
        const double cpu_before = OwnCpuSeconds();
        in_process = baseline->Run(*queries, k, count, options.duration);
        baseline_cpu_ms.push_back(1000 * (OwnCpuSeconds() - cpu_before) /
                                  static_cast<double>(in_process->latency.count()));
        std::vector<bool> seen(in_process->hits.size());
        for (size_t i = 0; i < seen.size(); ++i) seen[i] = !in_process->hits[i].empty();
        PrintRow("in-process FAISS (threads)", count, in_process->queries_per_second,
                 in_process->latency, MeanRecall(in_process->hits, seen, *truth, k),
                 absl::StrFormat("CPU %.3f ms/query", baseline_cpu_ms.back()));
        baseline_qps.push_back(in_process->queries_per_second);
        baseline_p99.push_back(in_process->latency.Quantile(0.99));
        baseline_p50.push_back(in_process->latency.Quantile(0.5));
      }
      const int server_pid = absl::GetFlag(FLAGS_server_pid);
      const double server_cpu_before = server_pid > 0 ? ProcessCpuSeconds(server_pid) : 0;
      const double client_cpu_before = OwnCpuSeconds();
      VectorSearchRun result = SearchByVectorLoad(collection, *queries, k, options);
      failed = failed || result.load.failed > 0;
      // Includes the warm-up's calls: CPU is sampled around the whole run.
      const double calls = static_cast<double>(result.calls_started);
      std::string notes = LoadNotes(result.load);
      absl::StrAppend(&notes,
                      absl::StrFormat("client CPU %.3f ms/query",
                                      1000 * (OwnCpuSeconds() - client_cpu_before) / calls));
      if (server_pid > 0) {
        server_cpu_ms.push_back(1000 * (ProcessCpuSeconds(server_pid) - server_cpu_before) / calls);
        absl::StrAppend(&notes,
                        absl::StrFormat(", server CPU %.3f ms/query", server_cpu_ms.back()));
      }
      absl::StrAppend(&notes, "; ");
      server_qps.push_back(result.load.calls_per_second());
      server_p99.push_back(result.load.latency.Quantile(0.99));
      server_p50.push_back(result.load.latency.Quantile(0.5));
      if (in_process.has_value()) {
        qps_ratio.push_back(server_qps.back() / baseline_qps.back());
        p99_ratio.push_back(server_p99.back() / baseline_p99.back());
        absl::StrAppend(&notes, absl::StrFormat("QPS ratio %.3f, p50 ratio %.2f, p99 ratio %.2f "
                                                "(server / in-process)",
                                                qps_ratio.back(),
                                                result.load.latency.Quantile(0.5) /
                                                    in_process->latency.Quantile(0.5),
                                                p99_ratio.back()));
      }
      PrintRow("gRPC Search by vector", count, result.load.calls_per_second(), result.load.latency,
               MeanRecall(result.hits, result.seen, *truth, k), notes);
    }
    if (repeats > 1) {
      std::string summary =
          absl::StrFormat("median of %d: server QPS %.1f p50 %.3f p99 %.3f ms", repeats,
                          Median(server_qps), Median(server_p50), Median(server_p99));
      if (!server_cpu_ms.empty()) {
        absl::StrAppend(&summary, absl::StrFormat(" CPU %.3f ms/query", Median(server_cpu_ms)));
      }
      if (!qps_ratio.empty()) {
        absl::StrAppend(
            &summary,
            absl::StrFormat("; in-process QPS %.1f p50 %.3f p99 %.3f ms CPU %.3f "
                            "ms/query; QPS ratio %.3f, p99 ratio %.2f",
                            Median(baseline_qps), Median(baseline_p50), Median(baseline_p99),
                            Median(baseline_cpu_ms), Median(qps_ratio), Median(p99_ratio)));
      }
      absl::PrintF("%-34s %7d %s\n", "SUMMARY", count, summary);
    }
  }
  return failed ? kExitError : kExitOk;
}

int SearchText(const std::string& collection, const std::vector<int>& clients) {
  absl::StatusOr<std::vector<std::string>> texts =
      ReadQueryTexts(absl::GetFlag(FLAGS_queries_jsonl));
  if (!texts.ok()) return Fail(texts.status());
  absl::StatusOr<v1::SearchMode> mode = client::ParseSearchMode(absl::GetFlag(FLAGS_mode));
  if (!mode.ok()) return UsageError(mode.status().message());
  const int k = absl::GetFlag(FLAGS_k);
  PrintHeader();
  bool failed = false;
  for (const int count : clients) {
    std::vector<std::shared_ptr<grpc::Channel>> channels = Channels(count);
    std::vector<std::unique_ptr<v1::SearchService::Stub>> stubs;
    for (const auto& channel : channels) stubs.push_back(v1::SearchService::NewStub(channel));
    double embed_ms = 0;
    double total_ms = 0;
    LoadResult result = RunLoad(
        Options(count),
        [&](int64_t sequence) {
          v1::SearchRequest request;
          request.set_collection(collection);
          request.set_text((*texts)[sequence % texts->size()]);
          request.mutable_options()->set_top_k(k);
          request.mutable_options()->set_mode(*mode);
          return AsyncSearch(stubs[sequence % stubs.size()].get(), std::move(request));
        },
        [&](int64_t, const PendingCall& call) {
          const v1::SearchTimings& timings =
              static_cast<const UnaryCall<v1::SearchResponse>&>(call).response().timings();
          embed_ms += timings.embed_ms();
          total_ms += timings.total_ms();
        });
    failed = failed || result.failed > 0;
    std::string notes = LoadNotes(result);
    if (total_ms > 0) {
      absl::StrAppend(&notes,
                      absl::StrFormat("server time per search %.3f ms, embedding %.1f%% of it",
                                      total_ms / result.succeeded, 100 * embed_ms / total_ms));
    }
    PrintRow(absl::StrCat("gRPC Search by text (",
                          absl::GetFlag(FLAGS_mode).empty() ? "default" : absl::GetFlag(FLAGS_mode),
                          ")"),
             count, result.calls_per_second(), result.latency, "-", notes);
  }
  return failed ? kExitError : kExitOk;
}

int Ingest(const std::string& collection, const std::vector<int>& clients) {
  const std::string path = absl::GetFlag(FLAGS_documents_path);
  if (path.empty()) return UsageError("ingest needs --documents_path");
  absl::StatusOr<std::unique_ptr<DocumentReader>> reader = DocumentReader::Open(path);
  if (!reader.ok()) return Fail(reader.status());
  std::vector<v1::Document> documents;
  Document document;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&document);
    if (!more.ok()) return Fail(more.status());
    if (!*more) break;
    v1::Document& proto = documents.emplace_back();
    proto.set_id(document.id);
    proto.set_title(document.title);
    proto.set_text(document.text);
  }
  if (documents.empty()) return Fail(absl::InvalidArgumentError("no documents to ingest"));
  const int batch = std::max(1, absl::GetFlag(FLAGS_batch));
  const int64_t batches = (static_cast<int64_t>(documents.size()) + batch - 1) / batch;
  const std::string run = absl::StrCat(absl::ToUnixMillis(absl::Now()));
  PrintHeader();
  bool failed = false;
  for (const int count : clients) {
    std::vector<std::shared_ptr<grpc::Channel>> channels = Channels(count);
    std::vector<std::unique_ptr<v1::DocumentService::Stub>> stubs;
    for (const auto& channel : channels) stubs.push_back(v1::DocumentService::NewStub(channel));
    LoadResult result = RunLoad(
        Options(count),
        [&](int64_t sequence) {
          v1::IngestRequest request;
          request.set_collection(collection);
          const int64_t first = (sequence % batches) * batch;
          const int64_t pass = sequence / batches;
          for (int64_t i = first; i < std::min<int64_t>(first + batch, documents.size()); ++i) {
            v1::Document* copy = request.add_documents();
            *copy = documents[static_cast<size_t>(i)];
            copy->set_id(absl::StrCat(copy->id(), "@", run, "-", count, "-", pass));
          }
          return AsyncIngest(stubs[sequence % stubs.size()].get(), std::move(request));
        },
        nullptr);
    failed = failed || result.failed > 0;
    PrintRow(absl::StrCat("gRPC Ingest (", batch, " documents/call)"), count,
             result.calls_per_second(), result.latency, "-",
             absl::StrCat(absl::StrFormat("%.0f documents/s ", result.calls_per_second() * batch),
                          LoadNotes(result)));
  }
  return failed ? kExitError : kExitOk;
}

int Generate(const std::string& collection, const std::vector<int>& clients) {
  absl::StatusOr<std::vector<std::string>> texts =
      ReadQueryTexts(absl::GetFlag(FLAGS_queries_jsonl));
  if (!texts.ok()) return Fail(texts.status());
  PrintHeader();
  bool failed = false;
  for (const int count : clients) {
    std::vector<std::shared_ptr<grpc::Channel>> channels = Channels(count);
    std::vector<std::unique_ptr<v1::GenerationService::Stub>> stubs;
    for (const auto& channel : channels) {
      stubs.push_back(v1::GenerationService::NewStub(channel));
    }
    int64_t completion_tokens = 0;
    LoadResult result = RunLoad(
        Options(count),
        [&](int64_t sequence) {
          v1::GenerateRequest request;
          request.set_collection(collection);
          request.set_question((*texts)[sequence % texts->size()]);
          return std::make_unique<GenerateCall>(stubs[sequence % stubs.size()].get(),
                                                std::move(request));
        },
        [&](int64_t, const PendingCall& call) {
          completion_tokens +=
              static_cast<const GenerateCall&>(call).result().usage().completion_tokens();
        });
    failed = failed || result.failed > 0;
    PrintRow("gRPC Generate (streamed)", count, result.calls_per_second(), result.latency, "-",
             absl::StrCat(
                 absl::StrFormat("%.1f completion tokens/call ",
                                 result.succeeded > 0 ? static_cast<double>(completion_tokens) /
                                                            static_cast<double>(result.succeeded)
                                                      : 0.0),
                 LoadNotes(result)));
  }
  return failed ? kExitError : kExitOk;
}

int FaissBuild() {
  const std::string path = absl::GetFlag(FLAGS_vectors_npy);
  if (path.empty()) return UsageError("faiss-build needs --vectors_npy");
  absl::StatusOr<NpyMatrix<float>> vectors = ReadNpyFloat32(path);
  if (!vectors.ok()) return Fail(vectors.status());
  const int64_t rows = absl::GetFlag(FLAGS_rows) > 0
                           ? std::min(absl::GetFlag(FLAGS_rows), vectors->rows)
                           : vectors->rows;
  const std::string spec =
      absl::GetFlag(FLAGS_index_spec).empty() ? "HNSW32" : absl::GetFlag(FLAGS_index_spec);
  omp_set_num_threads(std::max(1, absl::GetFlag(FLAGS_build_threads)));
  try {
    const absl::Time start = absl::Now();
    std::unique_ptr<faiss::Index> index(faiss::index_factory(
        static_cast<int>(vectors->columns), spec.c_str(), faiss::METRIC_INNER_PRODUCT));
    double train_seconds = 0;
    if (!index->is_trained) {
      const faiss::IndexIVF* ivf = faiss::ivflib::try_extract_index_ivf(index.get());
      const int64_t sample =
          std::min<int64_t>(rows, ivf != nullptr ? 256 * static_cast<int64_t>(ivf->nlist) : rows);
      index->train(sample, vectors->values.data());
      train_seconds = absl::ToDoubleSeconds(absl::Now() - start);
    }
    index->add(rows, vectors->values.data());
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    absl::PrintF(
        "faiss-build: %s (%s build), %d x %d, %d threads: %.1f s (train %.1f s), %.0f "
        "vectors/s\n",
        spec, QUARRY_FAISS_BUILD, rows, vectors->columns, absl::GetFlag(FLAGS_build_threads),
        seconds, train_seconds, rows / seconds);
  } catch (const std::exception& error) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("FAISS: ", error.what())));
  }
  return kExitOk;
}

}  // namespace

int RunBenchCommand(int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      absl::PrintF("%s", kBenchUsage);
      return kExitOk;
    }
  }
  // absl sees "quarry SCENARIO FLAGS..."; "bench" itself is not a positional it needs.
  std::vector<char*> arguments(argv, argv + argc);
  arguments.erase(arguments.begin() + 1);
  const std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(arguments.size()), arguments.data());
  if (positional.size() != 2) return UsageError("bench takes one SCENARIO");
  const std::string scenario = positional[1];
  if (scenario == "faiss-build") return FaissBuild();
  const std::string collection = absl::GetFlag(FLAGS_collection);
  if (collection.empty()) return UsageError("--collection is required");
  absl::StatusOr<std::vector<int>> clients = ClientCounts();
  if (!clients.ok()) return UsageError(clients.status().message());
  if (scenario == "load-vectors") return LoadVectors(collection, *clients);
  if (scenario == "search-vector") return SearchVector(collection, *clients);
  if (scenario == "search-text") return SearchText(collection, *clients);
  if (scenario == "ingest") return Ingest(collection, *clients);
  if (scenario == "generate") return Generate(collection, *clients);
  return UsageError(absl::StrCat("unknown scenario \"", scenario, "\""));
}

}  // namespace quarry::bench
