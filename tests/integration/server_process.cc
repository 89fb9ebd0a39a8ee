#include "tests/integration/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/integration/child_process.h"

namespace quarry::testing {
namespace {

constexpr std::string_view kListeningPrefix = "quarry-server listening on ";
constexpr std::string_view kMetricsPrefix = "quarry-server metrics on ";

std::string ErrnoMessage(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

int FailureCounter(int add) {
  static int failures = 0;
  failures += add;
  return failures;
}

}  // namespace

int FailureCount() { return FailureCounter(0); }
void RecordFailure() { FailureCounter(1); }

// --- TempDir -------------------------------------------------------------------------------

TempDir::TempDir(std::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
  std::string pattern = base + "/" + std::string(prefix) + "-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) throw std::runtime_error(ErrnoMessage("mkdtemp"));
  path_ = buffer.data();
}

TempDir::~TempDir() {
  std::error_code error;
  std::filesystem::remove_all(path_, error);
}

std::string TempDir::Join(std::string_view name) const { return path_ + "/" + std::string(name); }

// --- RunProcess ----------------------------------------------------------------------------

ProcessResult RunProcess(const std::vector<std::string>& arguments, const TempDir& scratch) {
  static int runs = 0;
  const std::string output_path = scratch.Join("process-" + std::to_string(++runs) + ".out");
  // stdout and stderr both append to the one file, so their lines interleave as written.
  const int output_fd =
      ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (output_fd < 0) throw std::runtime_error(ErrnoMessage(output_path));
  pid_t pid = -1;
  try {
    pid = SpawnProcess(arguments, output_fd, output_path);
  } catch (...) {
    ::close(output_fd);
    throw;
  }
  ::close(output_fd);
  ProcessResult result;
  result.exit_code = WaitForExit(pid, std::chrono::seconds(120));
  if (result.exit_code == -1) {
    ::kill(pid, SIGKILL);
    WaitForExit(pid, std::chrono::seconds(60));
  }
  result.output = ReadFileOrEmpty(output_path);
  return result;
}

// --- ServerProcess -------------------------------------------------------------------------

ServerProcess::ServerProcess(ServerConfig config) : config_(std::move(config)) { Launch(); }

ServerProcess::~ServerProcess() {
  if (running()) Kill();
}

void ServerProcess::Launch() {
  metrics_address_.clear();
  // Metrics on an ephemeral port too: the default port would clash between parallel tests.
  std::vector<std::string> args = {QUARRY_SERVER_BINARY, "--address=127.0.0.1:0",
                                   "--metrics_address=127.0.0.1:0",
                                   "--data_dir=" + config_.data_dir};
  args.insert(args.end(), config_.flags.begin(), config_.flags.end());
  const SpawnedChild child = SpawnWithPipedStdout(std::move(args), config_.log_path);
  pid_ = child.pid;
  stdout_fd_ = child.stdout_fd;

  // Read stdout until the listening line, EOF (the server died) or the deadline.
  const auto deadline = std::chrono::steady_clock::now() + config_.startup_timeout;
  std::string output;
  std::string failure;
  while (true) {
    if (const size_t newline = output.find('\n'); newline != std::string::npos) {
      const std::string line = output.substr(0, newline);
      output.erase(0, newline + 1);
      if (line.rfind(kListeningPrefix, 0) == 0) {
        address_ = line.substr(kListeningPrefix.size());
        break;
      }
      if (line.rfind(kMetricsPrefix, 0) == 0) metrics_address_ = line.substr(kMetricsPrefix.size());
      continue;  // Not ours; keep reading.
    }
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) {
      failure =
          "no listening line within " + std::to_string(config_.startup_timeout.count()) + " ms";
      break;
    }
    pollfd descriptor{stdout_fd_, POLLIN, 0};
    const int ready = ::poll(&descriptor, 1, static_cast<int>(remaining.count()));
    if (ready < 0) {
      if (errno == EINTR) continue;
      failure = ErrnoMessage("poll");
      break;
    }
    if (ready == 0) continue;  // The deadline check above ends the loop.
    char buffer[4096];
    const ssize_t got = ::read(stdout_fd_, buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) continue;
      failure = ErrnoMessage("read");
      break;
    }
    if (got == 0) {
      failure = "the server closed stdout (exited?) before printing its listening line";
      break;
    }
    output.append(buffer, static_cast<size_t>(got));
  }

  if (!failure.empty()) {
    const int status = running() ? Stop(SIGKILL) : -1;
    throw std::runtime_error("quarry-server did not start: " + failure + " (exit status " +
                             std::to_string(status) + ")\n--- server log (" + config_.log_path +
                             ") ---\n" + Log());
  }

  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(-1);
  arguments.SetMaxSendMessageSize(-1);
  // A fresh subchannel per start: never reuse a connection to a previous incarnation.
  arguments.SetInt("grpc.use_local_subchannel_pool", 1);
  channel_ = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), arguments);
}

int ServerProcess::Reap(std::chrono::milliseconds timeout) {
  int status = -1;
  try {
    status = WaitForExit(pid_, timeout);
  } catch (...) {
    pid_ = -1;
    throw;
  }
  if (status == -1) return -1;
  pid_ = -1;
  if (stdout_fd_ >= 0) {
    ::close(stdout_fd_);
    stdout_fd_ = -1;
  }
  channel_.reset();
  return status;
}

int ServerProcess::Stop(int signal_number) {
  if (!running()) throw std::logic_error("ServerProcess::Stop: not running");
  ::kill(pid_, signal_number);
  const int status = Reap(config_.shutdown_timeout);
  if (status == -1 && running()) {
    ::kill(pid_, SIGKILL);
    Reap(std::chrono::seconds(60));
    return -1;
  }
  return status;
}

void ServerProcess::Kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  Reap(std::chrono::seconds(60));
}

void ServerProcess::Restart() {
  if (running()) {
    const int status = Stop();
    if (status != 0) {
      throw std::runtime_error("ServerProcess::Restart: server exited with status " +
                               std::to_string(status));
    }
  }
  Launch();
}

std::string ServerProcess::Log() const { return ReadFileOrEmpty(config_.log_path); }

std::unique_ptr<quarry::v1::CollectionService::Stub> ServerProcess::collections() const {
  return quarry::v1::CollectionService::NewStub(channel_);
}
std::unique_ptr<quarry::v1::DocumentService::Stub> ServerProcess::documents() const {
  return quarry::v1::DocumentService::NewStub(channel_);
}
std::unique_ptr<quarry::v1::SearchService::Stub> ServerProcess::search() const {
  return quarry::v1::SearchService::NewStub(channel_);
}
std::unique_ptr<grpc::health::v1::Health::Stub> ServerProcess::health() const {
  return grpc::health::v1::Health::NewStub(channel_);
}

// --- IndexerProcess ------------------------------------------------------------------------

IndexerProcess::IndexerProcess(std::vector<std::string> arguments, std::string log_path)
    : log_path_(std::move(log_path)) {
  // No metrics endpoint unless asked for: the default port would clash between parallel tests.
  arguments.insert(arguments.begin(), {QUARRY_INDEXER_BINARY, "--metrics_address="});
  pid_ = SpawnProcess(std::move(arguments), -1, log_path_);
}

IndexerProcess::~IndexerProcess() {
  if (pid_ > 0) Kill();
}

int IndexerProcess::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return exit_status_;
  const int status = WaitForExit(pid_, timeout);
  if (status == -1) {
    Kill();
    return -1;
  }
  pid_ = -1;
  exit_status_ = status;
  return status;
}

int IndexerProcess::Kill() {
  if (pid_ <= 0) return exit_status_;
  ::kill(pid_, SIGKILL);
  exit_status_ = WaitForExit(pid_, std::chrono::seconds(60));
  pid_ = -1;
  return exit_status_;
}

int RunIndexer(std::vector<std::string> arguments, const std::string& log_path) {
  return IndexerProcess(std::move(arguments), log_path).Wait();
}

// --- TestServer ----------------------------------------------------------------------------

TestServer::TestServer(std::vector<std::string> flags)
    : root_("quarry-it"), data_dir_(root_.Join("data")), failures_at_start_(FailureCount()) {
  ServerConfig config;
  config.data_dir = data_dir_;
  config.log_path = root_.Join("server.log");
  config.flags = std::move(flags);
  process_ = std::make_unique<ServerProcess>(std::move(config));
}

TestServer::~TestServer() {
  if (FailureCount() != failures_at_start_ || std::uncaught_exceptions() > 0) {
    std::cerr << "--- quarry-server log (" << process_->config().log_path << ") ---\n"
              << process_->Log() << "--- end of quarry-server log ---\n";
  }
  process_.reset();
}

}  // namespace quarry::testing
