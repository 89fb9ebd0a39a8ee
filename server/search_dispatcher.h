// Serves SearchService.Search on gRPC completion queues, one per core, each drained by one
// thread that runs a call from arrival to reply: no hand-off from a polling thread to a handler
// thread, as gRPC's sync server does per call. On 2 cores (bench/run_dense.sh, 200k HNSW32,
// 2 clients) that took the server from ~2,200 to ~2,800 searches/s and from 0.60 to 0.54 ms of
// CPU per search.
//
// A search that may wait on a remote model (reranker, OpenAI-compatible embedder) would hold a
// queue's thread, and every search behind it, for as long as the model takes; `waits_on_remote`
// picks those out and they run on a separate pool of workers instead. Only those can see their
// caller's cancellation (ServerContext::IsCancelled): in the async API it shows once the queue's
// thread has taken the call's `over` tag, which a thread answering inline cannot do meanwhile.
// Their line is unbounded; each call's deadline still applies once a worker takes it.
//
// A queue asks gRPC for its next call only once its thread is free again, so a call never
// waits behind a long search (an exact scan) while another queue's thread is idle.
//
// A free thread polls its queue for `poll_before_sleep` after each event before it sleeps (the
// thread that is gRPC's poller at the time also polls the sockets): on a VM, waking a sleeping
// thread on an idle vCPU takes tens of microseconds per call, during which the core does
// nothing. 200k HNSW32 on 2 cores, clients on the same cores
// (bench/run_dense.sh): 100 us took 2 clients from ~2,980 to ~3,340 searches/s and their p99
// from 1.41 to 1.09 ms, 1 client from ~1,640 to ~1,860. The cost is up to that much CPU after
// a call's last event when no next call comes in time; measured on 2 cores only. Between polls
// it yields the core, so that what is runnable there (often the caller, about to send its next
// call) does not have to preempt a search instead. A small gain, but in every A/B round: 2
// clients ~3,790 -> ~3,870 searches/s and 0.45 -> 0.43 ms of server CPU per search (3 rounds);
// 4 clients 4,110-4,220 -> 4,270-4,350, p99 1.81 -> 1.46 ms (2 rounds).
//
// Requests arrive as bytes and are parsed here with quarry.v1's own traits
// (proto/quarry_serialization.h): gRPC's async API would answer a request that does not parse
// with INTERNAL "Unable to parse request" instead of their INVALID_ARGUMENT naming the field.
#ifndef QUARRY_SERVER_SEARCH_DISPATCHER_H_
#define QUARRY_SERVER_SEARCH_DISPATCHER_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "quarry/v1/quarry.grpc.pb.h"

namespace quarry::server {

struct SearchDispatcherOptions {
  int queues = 1;          // each with one thread (at least 1)
  int remote_workers = 1;  // threads for the calls that wait on a remote model (at least 1)
  // How long a free queue thread polls for the next call before it sleeps (0: sleeps at once).
  absl::Duration poll_before_sleep = absl::ZeroDuration();
};

class SearchDispatcher {
 public:
  using WaitsOnRemote = std::function<bool(const v1::SearchRequest&)>;

  // `handler` answers each call (it must outlive this); `waits_on_remote` picks out the calls
  // that run on the remote workers.
  SearchDispatcher(v1::SearchService::Service* handler, WaitsOnRemote waits_on_remote,
                   const SearchDispatcherOptions& options);
  // Stop(), if the server did not call it. A started dispatcher must not be destroyed while
  // its grpc::Server still runs: the calls it asked for would never come back.
  ~SearchDispatcher();
  SearchDispatcher(const SearchDispatcher&) = delete;
  SearchDispatcher& operator=(const SearchDispatcher&) = delete;

  // Registers Search and adds the queues; before builder.BuildAndStart().
  void Register(grpc::ServerBuilder& builder);
  // Starts the threads; after BuildAndStart() succeeded.
  void Start();
  // After grpc::Server::Shutdown returned (it cancels the calls still running but does not
  // wait for their handlers): waits until gRPC has handed back every tag of every call, then
  // shuts the queues down and joins every thread.
  void Stop();

 private:
  struct Call;
  void RequestCall(grpc::ServerCompletionQueue* queue);
  void ServeQueue(grpc::ServerCompletionQueue* queue);
  // The queue's next event, polling for poll_before_sleep_ before blocking; false once the
  // queue is shut down and drained.
  bool NextEvent(grpc::ServerCompletionQueue* queue, void** tag, bool* ok) const;
  // Runs the handler (when `status`, the request's parse, is OK) and sends the reply.
  void Answer(Call* call, grpc::Status status);
  // A requested call came back (a call, or none: the server is stopping).
  void Arrived();
  // Deletes a call whose every tag is back.
  void Forget(Call* call);
  void RunRemoteWorker();
  bool NoMoreCalls() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(calls_mutex_) {
    return stopping_ && requested_ == 0;
  }
  bool AllCallsGone() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(calls_mutex_) {
    return stopping_ && live_ == 0;
  }
  bool RemoteWorkerMayGo() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(remote_mutex_) {
    return !remote_calls_.empty() || remote_closed_;
  }

  v1::SearchService::Service* const handler_;
  const WaitsOnRemote waits_on_remote_;
  const int remote_workers_;
  const absl::Duration poll_before_sleep_;
  v1::SearchService::WithRawMethod_Search<v1::SearchService::Service> service_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::vector<std::thread> threads_;  // queue threads, then remote workers
  bool started_ = false;
  bool stopped_ = false;

  // Every call from its request to the return of its last tag. Nothing may be added to a queue
  // once it is shut down, and gRPC itself adds work for a call until its last tag (the metrics
  // interceptor's pass over `over`), so the queues stay up until no call is left.
  absl::Mutex calls_mutex_;
  bool stopping_ ABSL_GUARDED_BY(calls_mutex_) = false;  // no new call is requested
  int requested_ ABSL_GUARDED_BY(calls_mutex_) = 0;  // calls asked of gRPC that have not come
  int live_ ABSL_GUARDED_BY(calls_mutex_) = 0;       // calls not yet deleted

  // Apart from calls_mutex_, so that the idle workers' wait is not re-checked on every call.
  absl::Mutex remote_mutex_;
  std::deque<Call*> remote_calls_ ABSL_GUARDED_BY(remote_mutex_);
  bool remote_closed_ ABSL_GUARDED_BY(remote_mutex_) = false;  // no call will be added
};

}  // namespace quarry::server

#endif  // QUARRY_SERVER_SEARCH_DISPATCHER_H_
