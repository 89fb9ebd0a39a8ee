// Waiting for SIGTERM/SIGINT in a process whose threads we do not all own.
//
// Blocking the signals with pthread_sigmask in main() is not enough: libraries start threads
// before main (OpenBLAS does, from a constructor), those threads keep the signals unblocked,
// and the kernel may deliver SIGTERM to one of them, whose default action kills the process.
// So a real handler is installed instead; it only writes the signal number to a pipe (the one
// async-signal-safe thing it needs), and Wait() reads it on an ordinary thread.
#ifndef QUARRY_INDEX_SHUTDOWN_SIGNAL_H_
#define QUARRY_INDEX_SHUTDOWN_SIGNAL_H_

namespace quarry {

class ShutdownSignal {
 public:
  // Installs the SIGTERM and SIGINT handlers. One instance per process, created in main().
  ShutdownSignal();
  ~ShutdownSignal();
  ShutdownSignal(const ShutdownSignal&) = delete;
  ShutdownSignal& operator=(const ShutdownSignal&) = delete;

  // Blocks until SIGTERM or SIGINT arrives (or Trigger is called); returns the signal number
  // (0 for Trigger).
  int Wait();

  // Wakes Wait() without a signal (e.g. the server stopped for another reason).
  void Trigger();

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
};

}  // namespace quarry

#endif  // QUARRY_INDEX_SHUTDOWN_SIGNAL_H_
