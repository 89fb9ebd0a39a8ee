#include "index/shutdown_signal.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>

namespace quarry {
namespace {

// A signal handler receives no context, so the pipe's write end must be reachable from a
// static. It is set once by the one ShutdownSignal of the process and read only by the handler.
std::atomic<int> signal_pipe_write_fd{-1};

void OnShutdownSignal(int signal_number) {
  const int saved_errno = errno;
  const int fd = signal_pipe_write_fd.load();
  if (fd >= 0) {
    const unsigned char byte = static_cast<unsigned char>(signal_number);
    [[maybe_unused]] ssize_t ignored = write(fd, &byte, 1);
  }
  errno = saved_errno;
}

}  // namespace

ShutdownSignal::ShutdownSignal() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) == 0) {
    read_fd_ = fds[0];
    write_fd_ = fds[1];
  }
  signal_pipe_write_fd.store(write_fd_);
  struct sigaction action = {};
  action.sa_handler = OnShutdownSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

ShutdownSignal::~ShutdownSignal() {
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal_pipe_write_fd.store(-1);
  if (read_fd_ >= 0) close(read_fd_);
  if (write_fd_ >= 0) close(write_fd_);
}

int ShutdownSignal::Wait() {
  unsigned char byte = 0;
  while (true) {
    const ssize_t n = read(read_fd_, &byte, 1);
    if (n == 1) return byte;
    if (n < 0 && errno == EINTR) continue;
    return 0;
  }
}

void ShutdownSignal::Trigger() {
  const unsigned char byte = 0;
  [[maybe_unused]] ssize_t ignored = write(write_fd_, &byte, 1);
}

}  // namespace quarry
