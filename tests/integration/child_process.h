// Any helper process a test needs besides quarry-server (quarry-indexer watch, Debian's
// prometheus): spawned with stdout on a pipe and stderr appended to a log file, waited for on a
// line it prints (poll() under a deadline, no sleeps), and ended with SIGTERM (SIGKILL if it
// lingers) when the object goes.
#ifndef QUARRY_TESTS_INTEGRATION_CHILD_PROCESS_H_
#define QUARRY_TESTS_INTEGRATION_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace quarry::testing {

struct SpawnedChild {
  pid_t pid = -1;
  int stdout_fd = -1;  // read end of the child's stdout
};

// Spawns argv (argv[0] a path) with stdin from /dev/null, stdout on `stdout_fd` (/dev/null when
// -1), stderr appended to `log_path`, the environment minus QUARRY_* variables and no blocked or
// ignored signals. Returns the pid; throws std::runtime_error when it cannot.
pid_t SpawnProcess(std::vector<std::string> argv, int stdout_fd, const std::string& log_path);

// Waits for `pid` to exit, polling waitpid under a deadline (the condition is "the process has
// exited"). Returns its exit code, 128 + signal when a signal ended it, -1 on timeout.
int WaitForExit(pid_t pid, std::chrono::milliseconds timeout);

// Spawns argv (argv[0] a path) with stdin from /dev/null, stdout on a pipe, stderr appended to
// `log_path`, the environment minus QUARRY_* variables (binaries read them as flag defaults)
// and no blocked or ignored signals, whatever this multi-threaded process has set up. Throws
// std::runtime_error when it cannot.
SpawnedChild SpawnWithPipedStdout(std::vector<std::string> argv, const std::string& log_path);

class ChildProcess {
 public:
  // Starts argv[0] (a path) with the test's environment minus QUARRY_* variables. Throws
  // std::runtime_error when it cannot be spawned.
  ChildProcess(std::vector<std::string> argv, std::string log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The rest of the first stdout line starting with `prefix`. Throws std::runtime_error, with
  // the log, if the process closes stdout or stays silent past `timeout`.
  std::string WaitForLine(std::string_view prefix,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // The process's stderr so far.
  std::string Log() const;

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;  // stdout read but not yet consumed by WaitForLine
};

// A TCP port on 127.0.0.1 that was free a moment ago, for programs that cannot report the
// port they bound (prometheus).
int FreeLoopbackPort();

}  // namespace quarry::testing

#endif  // QUARRY_TESTS_INTEGRATION_CHILD_PROCESS_H_
