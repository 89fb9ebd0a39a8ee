// Runs the real quarry-server binary for integration tests.
//
// ServerProcess spawns the binary (posix_spawn) on 127.0.0.1 with an ephemeral port, with its
// stdout on a pipe and its stderr appended to a log file. Start-up is synchronised on the one
// line the server prints when it is ready ("quarry-server listening on HOST:PORT"), read with
// poll() under a deadline: no sleeps. Stop() sends SIGTERM and reaps the process, returning its
// exit status; Kill() sends SIGKILL; Restart() starts it again on the same data directory.
//
// IndexerProcess runs the real quarry-indexer the same way (stderr appended to a log file).
//
// TestServer bundles a temporary directory (data dir + log file) with a ServerProcess, and
// prints the server's log when the test using it failed.
#ifndef QUARRY_TESTS_INTEGRATION_SERVER_PROCESS_H_
#define QUARRY_TESTS_INTEGRATION_SERVER_PROCESS_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "quarry/v1/quarry.grpc.pb.h"

namespace quarry::testing {

// A fresh directory made with mkdtemp under $TMPDIR (or /tmp); removed with everything in it
// when destroyed.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "quarry-it");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name
  std::string Join(std::string_view name) const;

 private:
  std::string path_;
};

struct ServerConfig {
  std::string data_dir;
  // Server stderr is appended here.
  std::string log_path;
  // Extra flags, e.g. "--max_batch_documents=5". --address and --data_dir are always set.
  std::vector<std::string> flags;
  // How long start-up (until the listening line) may take.
  std::chrono::milliseconds startup_timeout{std::chrono::seconds(120)};
  // How long the server may take to exit after SIGTERM.
  std::chrono::milliseconds shutdown_timeout{std::chrono::seconds(60)};
};

// The exit status Stop() reports for a process killed by a signal: 128 + signal number.
// Stop() returns -1 when the process did not exit in time (it is then killed).
class ServerProcess {
 public:
  // Starts the server and waits for its listening line. Throws std::runtime_error, with the
  // server's log, if it exits or stays silent past the start-up timeout.
  explicit ServerProcess(ServerConfig config);
  // SIGKILLs the process if it is still running.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // "127.0.0.1:PORT" as printed by the server.
  const std::string& address() const { return address_; }
  // "127.0.0.1:PORT" of the Prometheus /metrics endpoint; empty when metrics are disabled.
  const std::string& metrics_address() const { return metrics_address_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  const ServerConfig& config() const { return config_; }

  // A channel to the running server (one per start; unlimited client-side message sizes so
  // that the server's limits are the ones tested).
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  std::unique_ptr<quarry::v1::CollectionService::Stub> collections() const;
  std::unique_ptr<quarry::v1::DocumentService::Stub> documents() const;
  std::unique_ptr<quarry::v1::SearchService::Stub> search() const;
  std::unique_ptr<grpc::health::v1::Health::Stub> health() const;

  // Sends `signal` (SIGTERM by default) and waits for the process to exit; returns its exit
  // code (see above).
  int Stop(int signal_number = SIGTERM);
  // SIGKILL and reap.
  void Kill();
  // Starts the server again with the same configuration (stopping it first with SIGTERM if it
  // is running). The port, address and channel change.
  void Restart();

  // The server's stderr so far.
  std::string Log() const;

 private:
  void Launch();
  int Reap(std::chrono::milliseconds timeout);

  ServerConfig config_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string address_;
  std::string metrics_address_;
  std::shared_ptr<grpc::Channel> channel_;
};

// quarry-indexer with `arguments` (after the program name), e.g. {"watch", "--once",
// "--data_dir=..."}. Exit statuses as for ServerProcess::Stop().
class IndexerProcess {
 public:
  IndexerProcess(std::vector<std::string> arguments, std::string log_path);
  // SIGKILLs the process if it is still running.
  ~IndexerProcess();
  IndexerProcess(const IndexerProcess&) = delete;
  IndexerProcess& operator=(const IndexerProcess&) = delete;

  // Waits for the exit and returns its status; kills it and returns -1 past `timeout`.
  int Wait(std::chrono::milliseconds timeout = std::chrono::minutes(5));
  // SIGKILL (if still running) and reap; returns the exit status (137 if the kill ended it).
  int Kill();
  const std::string& log_path() const { return log_path_; }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

// Runs quarry-indexer to completion; returns its exit status.
int RunIndexer(std::vector<std::string> arguments, const std::string& log_path);

// A server on its own temporary data directory. Prints the server log to stderr on
// destruction when a test assertion failed (or an exception is propagating) while it lived.
class TestServer {
 public:
  explicit TestServer(std::vector<std::string> flags = {});
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  ServerProcess& process() { return *process_; }
  ServerProcess* operator->() { return process_.get(); }
  const TempDir& root() const { return root_; }
  // root()/data, the server's --data_dir.
  const std::string& data_dir() const { return data_dir_; }

 private:
  TempDir root_;
  std::string data_dir_;
  std::unique_ptr<ServerProcess> process_;
  int failures_at_start_ = 0;
};

// What a finished child process left: its exit code (128 + signal if killed, -1 if it ran past
// the two-minute cap and was killed) and its stdout and stderr, interleaved.
struct ProcessResult {
  int exit_code = -1;
  std::string output;
};

// Runs `arguments` (argv[0] is the binary's path) to completion through SpawnProcess (the
// test's environment minus QUARRY_*), its stdout and stderr captured through a file in
// `scratch`. Throws std::runtime_error when it cannot be spawned.
ProcessResult RunProcess(const std::vector<std::string>& arguments, const TempDir& scratch);

// Assertion failures seen so far in this process (fed by a Catch2 listener).
int FailureCount();
void RecordFailure();

}  // namespace quarry::testing

#endif  // QUARRY_TESTS_INTEGRATION_SERVER_PROCESS_H_
