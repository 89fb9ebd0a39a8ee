// quarry-server: the stateless gRPC retrieval service. Every flag has a QUARRY_* environment
// equivalent (see environment_flags.h); `quarry-server --helpfull` lists them.
#include <pthread.h>

#include <algorithm>
#include <csignal>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "index/embedder_flags.h"
#include "index/environment_flags.h"
#include "index/shutdown_signal.h"
#include "server/quarry_server.h"
#include "server/security/security_flags.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, address, "0.0.0.0:50051",
          "gRPC listen address host:port (port 0 picks a free one)");
ABSL_FLAG(std::string, data_dir, "./quarry-data", "Data directory: the only state");
ABSL_FLAG(int, max_message_bytes, 64 << 20,
          "Largest gRPC message accepted or sent; larger requests get RESOURCE_EXHAUSTED "
          "(use IngestStream for bulk loads)");
ABSL_FLAG(int, max_batch_documents, 1000, "Most documents (or ids) in one Ingest/Delete request");
ABSL_FLAG(int64_t, max_document_bytes, 8 << 20, "Largest document text, in bytes");
ABSL_FLAG(int64_t, max_query_bytes, 16 << 10, "Largest query text, in bytes");
ABSL_FLAG(int, max_top_k, 1000, "Largest top_k a search may ask for");
ABSL_FLAG(int, refresh_interval_ms, 200,
          "How often to pick up writes made by other processes sharing the data directory");
ABSL_FLAG(bool, fsync, true,
          "fsync the ingest log before acknowledging writes (turn off only for throwaway data)");
ABSL_FLAG(int64_t, log_segment_bytes, 64 << 20,
          "The ingest log starts a new segment file after this many bytes (the indexer deletes "
          "segments its shards cover)");
ABSL_FLAG(int, shutdown_grace_seconds, 10,
          "On SIGTERM/SIGINT, how long in-flight calls may take before they are cancelled");
ABSL_FLAG(int, search_threads, 0,
          "Threads answering Search, each call start to finish on one (0: one per core)");
ABSL_FLAG(int, search_poll_microseconds, 100,
          "How long a free Search thread polls for the next call before it sleeps (0..10000; "
          "0: sleeps at once). Saves a thread wake-up per call under load, at the cost of up to "
          "this much CPU per call when none follows");
ABSL_FLAG(int, remote_search_workers, 16,
          "Searches that may wait on a reranker or an embedder at the same time (more wait in "
          "line); they run apart from --search_threads");
ABSL_FLAG(std::string, log_level, "info", "Log level: trace, debug, info, warn, error");
ABSL_FLAG(std::string, metrics_address, "0.0.0.0:9464",
          "Prometheus /metrics listen address host:port (port 0 picks a free one; empty: no "
          "metrics)");
ABSL_FLAG(std::string, llm_base_url, "",
          "OpenAI-compatible API base, e.g. http://127.0.0.1:8000/v1 (empty: no LLM; Generate "
          "answers extractively)");
ABSL_FLAG(std::string, llm_api_key, "", "Bearer token for the LLM endpoint (prefer the env var)");
ABSL_FLAG(std::string, llm_model, "", "Model used when a Generate request names none");
ABSL_FLAG(std::vector<std::string>, llm_allowed_models, {},
          "Other models a Generate request may name (comma-separated; * allows any)");
ABSL_FLAG(int, llm_timeout_seconds, 120, "Upper bound on one LLM call");
ABSL_FLAG(std::string, reranker_url, "",
          "Reranker endpoint in the common /rerank format (TEI, Jina, Cohere, vLLM), e.g. "
          "http://127.0.0.1:8080/rerank (empty: Search requests with rerank keep the fused order)");
ABSL_FLAG(std::string, reranker_api_key, "", "Bearer token for the reranker (prefer the env var)");
ABSL_FLAG(std::string, reranker_model, "", "Model named in rerank requests (empty: not sent)");
ABSL_FLAG(int, reranker_timeout_seconds, 10, "Upper bound on one rerank call");
ABSL_FLAG(int, reranker_max_candidates, 100,
          "Most fused candidates one Search may have reranked (options.rerank_candidates)");
ABSL_FLAG(int, generate_context_tokens, 3000,
          "Default token budget for the sources packed into a Generate prompt");

namespace {

quarry::server::ServerOptions OptionsFromFlags() {
  quarry::server::ServerOptions options;
  options.address = absl::GetFlag(FLAGS_address);
  options.data_directory = absl::GetFlag(FLAGS_data_dir);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.max_batch_documents = absl::GetFlag(FLAGS_max_batch_documents);
  options.limits.max_document_bytes = absl::GetFlag(FLAGS_max_document_bytes);
  options.limits.max_query_bytes = absl::GetFlag(FLAGS_max_query_bytes);
  options.limits.max_top_k = absl::GetFlag(FLAGS_max_top_k);
  options.log.sync = absl::GetFlag(FLAGS_fsync);
  options.log.max_segment_bytes =
      static_cast<uint64_t>(std::max<int64_t>(1, absl::GetFlag(FLAGS_log_segment_bytes)));
  options.refresh_interval = absl::Milliseconds(absl::GetFlag(FLAGS_refresh_interval_ms));
  options.search_threads = absl::GetFlag(FLAGS_search_threads);
  options.remote_search_workers = absl::GetFlag(FLAGS_remote_search_workers);
  options.search_poll_before_sleep =
      absl::Microseconds(absl::GetFlag(FLAGS_search_poll_microseconds));
  options.generation.llm.base_url = absl::GetFlag(FLAGS_llm_base_url);
  options.generation.llm.http.api_key = absl::GetFlag(FLAGS_llm_api_key);
  options.generation.llm.model = absl::GetFlag(FLAGS_llm_model);
  options.generation.llm.http.request_timeout =
      absl::Seconds(absl::GetFlag(FLAGS_llm_timeout_seconds));
  options.generation.allowed_models = absl::GetFlag(FLAGS_llm_allowed_models);
  options.generation.default_context_tokens = absl::GetFlag(FLAGS_generate_context_tokens);
  options.generation.max_question_bytes = options.limits.max_query_bytes;
  options.embeddings = quarry::EmbeddingsEndpointFromFlags();
  options.reranking.reranker.url = absl::GetFlag(FLAGS_reranker_url);
  options.reranking.reranker.model = absl::GetFlag(FLAGS_reranker_model);
  options.reranking.reranker.http.api_key = absl::GetFlag(FLAGS_reranker_api_key);
  options.reranking.reranker.http.request_timeout =
      absl::Seconds(absl::GetFlag(FLAGS_reranker_timeout_seconds));
  options.reranking.max_candidates = absl::GetFlag(FLAGS_reranker_max_candidates);
  options.security = quarry::security::SecurityOptionsFromFlags();
  options.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("quarry-server: retrieval service for RAG (gRPC quarry.v1)");
  quarry::ParseFlagsWithEnvironment(argc, argv);
  // Debian's abseil is built without NDEBUG, which turns on absl::Mutex's deadlock detector:
  // every lock then records the lock order in a process-wide graph under one global lock.
  // The tests (ASan/UBSan included) keep it on; the server does without it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Logs go to stderr as logfmt lines; stdout carries only the readiness line.
  auto logger = spdlog::stderr_logger_mt("quarry");
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%e%z level=%l %v");
  logger->set_level(spdlog::level::from_str(absl::GetFlag(FLAGS_log_level)));
  spdlog::set_default_logger(logger);

  quarry::ShutdownSignal shutdown_signal;
  const quarry::server::ServerOptions options = OptionsFromFlags();
  absl::StatusOr<std::unique_ptr<quarry::server::QuarryServer>> server =
      quarry::server::QuarryServer::Start(options);
  if (!server.ok()) {
    spdlog::critical("msg=\"start failed\" error=\"{}\"", server.status().ToString());
    return 1;
  }
  if ((*server)->metrics_port() != 0) {
    const std::string metrics_host =
        options.metrics_address.substr(0, options.metrics_address.rfind(':'));
    spdlog::info("msg=\"serving metrics\" address={}:{}", metrics_host, (*server)->metrics_port());
    std::printf("quarry-server metrics on %s:%d\n", metrics_host.c_str(),
                (*server)->metrics_port());
  }
  const std::string host = options.address.substr(0, options.address.rfind(':'));
  spdlog::info("msg=\"listening\" address={}:{} data_dir={}", host, (*server)->port(),
               options.data_directory);
  std::printf("quarry-server listening on %s:%d\n", host.c_str(), (*server)->port());
  std::fflush(stdout);

  std::thread signal_waiter([&] {
    const int signal_number = shutdown_signal.Wait();
    spdlog::info("msg=\"shutting down\" signal={}", signal_number);
    (*server)->Shutdown(absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  });
  (*server)->Wait();
  signal_waiter.join();
  spdlog::info("msg=\"stopped\"");
  return 0;
}
