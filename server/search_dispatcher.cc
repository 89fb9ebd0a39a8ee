#include "server/search_dispatcher.h"

#include <grpc/support/time.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

namespace quarry::server {

struct SearchDispatcher::Call {
  // A call hands its queue two tags: `progress` when the call arrives (ok false: no call, the
  // server is stopping) and again when the reply is gone; `over` once gRPC is done with the
  // call, which ServerContext::IsCancelled needs in the async API (AsyncNotifyWhenDone) and
  // which comes for every call that arrived.
  struct Tag {
    Call* call;
  };
  Tag progress{this};
  Tag over{this};
  bool answered = false;   // Finish was issued
  bool replied = false;    // ... and `progress` came back
  bool over_seen = false;  // `over` came back

  grpc::ServerContext context;
  grpc::ByteBuffer request_bytes;
  v1::SearchRequest request;
  v1::SearchResponse response;
  grpc::ServerAsyncResponseWriter<grpc::ByteBuffer> writer{&context};
};

SearchDispatcher::SearchDispatcher(v1::SearchService::Service* handler,
                                   WaitsOnRemote waits_on_remote,
                                   const SearchDispatcherOptions& options)
    : handler_(handler),
      waits_on_remote_(std::move(waits_on_remote)),
      remote_workers_(std::max(1, options.remote_workers)),
      poll_before_sleep_(std::max(options.poll_before_sleep, absl::ZeroDuration())) {
  queues_.resize(std::max(1, options.queues));
}

SearchDispatcher::~SearchDispatcher() { Stop(); }

void SearchDispatcher::Register(grpc::ServerBuilder& builder) {
  builder.RegisterService(&service_);
  for (std::unique_ptr<grpc::ServerCompletionQueue>& queue : queues_) {
    queue = builder.AddCompletionQueue();
  }
}

void SearchDispatcher::Start() {
  started_ = true;
  for (std::unique_ptr<grpc::ServerCompletionQueue>& queue : queues_) {
    threads_.emplace_back([this, queue = queue.get()] { ServeQueue(queue); });
  }
  for (int i = 0; i < remote_workers_; ++i) threads_.emplace_back([this] { RunRemoteWorker(); });
}

void SearchDispatcher::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    // No new call is asked for; those asked for come back (failed) after the server's
    // Shutdown, and then none can be added to the workers' line.
    absl::MutexLock lock(&calls_mutex_);
    stopping_ = true;
    calls_mutex_.Await(absl::Condition(this, &SearchDispatcher::NoMoreCalls));
  }
  {
    absl::MutexLock lock(&remote_mutex_);
    remote_closed_ = true;
  }
  if (started_) {
    absl::MutexLock lock(&calls_mutex_);
    calls_mutex_.Await(absl::Condition(this, &SearchDispatcher::AllCallsGone));
  }
  for (std::unique_ptr<grpc::ServerCompletionQueue>& queue : queues_) {
    if (queue != nullptr) queue->Shutdown();
  }
  if (!started_) {
    for (std::unique_ptr<grpc::ServerCompletionQueue>& queue : queues_) {
      if (queue != nullptr) ServeQueue(queue.get());
    }
  }
  for (std::thread& thread : threads_) thread.join();
}

void SearchDispatcher::RequestCall(grpc::ServerCompletionQueue* queue) {
  absl::MutexLock lock(&calls_mutex_);
  if (stopping_) return;
  ++requested_;
  ++live_;
  auto call = std::make_unique<Call>();
  call->context.AsyncNotifyWhenDone(&call->over);
  service_.RequestSearch(&call->context, &call->request_bytes, &call->writer, queue, queue,
                         &call->progress);
  call.release();  // owned by its tags until the queue has handed back the last one
}

void SearchDispatcher::Arrived() {
  absl::MutexLock lock(&calls_mutex_);
  --requested_;
}

void SearchDispatcher::Forget(Call* call) {
  delete call;
  absl::MutexLock lock(&calls_mutex_);
  --live_;
}

bool SearchDispatcher::NextEvent(grpc::ServerCompletionQueue* queue, void** tag, bool* ok) const {
  if (poll_before_sleep_ > absl::ZeroDuration()) {
    const auto sleep_at =
        std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(poll_before_sleep_);
    // A deadline already past: gRPC looks at the queue and the sockets once and returns.
    const gpr_timespec now_only = gpr_time_0(GPR_CLOCK_MONOTONIC);
    while (std::chrono::steady_clock::now() < sleep_at) {
      switch (queue->AsyncNext(tag, ok, now_only)) {
        case grpc::CompletionQueue::GOT_EVENT:
          return true;
        case grpc::CompletionQueue::SHUTDOWN:
          return false;
        case grpc::CompletionQueue::TIMEOUT:
          // Anything runnable on this core goes first: often the caller, about to send the
          // next call, which would otherwise preempt a search on the other core.
          std::this_thread::yield();
          break;
      }
    }
  }
  return queue->Next(tag, ok);
}

void SearchDispatcher::ServeQueue(grpc::ServerCompletionQueue* queue) {
  if (started_) RequestCall(queue);
  void* tag = nullptr;
  bool ok = false;
  while (NextEvent(queue, &tag, &ok)) {
    Call* call = static_cast<Call::Tag*>(tag)->call;
    if (tag == &call->over) {
      call->over_seen = true;
      if (call->replied) Forget(call);
      continue;
    }
    if (call->answered) {
      call->replied = true;
      if (call->over_seen) Forget(call);
      continue;
    }
    if (!ok) {  // no call came (the server is stopping), and nothing else will for this one
      Forget(call);
      Arrived();
      continue;
    }
    grpc::Status parsed =
        v1::serialization::DeserializeRequest(&call->request_bytes, &call->request);
    const bool remote = parsed.ok() && waits_on_remote_(call->request);
    if (remote) {
      absl::MutexLock lock(&remote_mutex_);
      remote_calls_.push_back(call);
    }
    // Only now: once none is outstanding, Stop() closes the workers' line.
    Arrived();
    if (!remote) Answer(call, std::move(parsed));
    RequestCall(queue);
  }
}

void SearchDispatcher::Answer(Call* call, grpc::Status status) {
  if (status.ok()) status = handler_->Search(&call->context, &call->request, &call->response);
  grpc::ByteBuffer reply;
  bool own_buffer = false;
  if (status.ok()) {
    status = grpc::SerializationTraits<v1::SearchResponse>::Serialize(call->response, &reply,
                                                                      &own_buffer);
  }
  call->answered = true;
  // A non-OK status goes without the message.
  if (status.ok()) {
    call->writer.Finish(reply, status, &call->progress);
  } else {
    call->writer.FinishWithError(status, &call->progress);
  }
}

void SearchDispatcher::RunRemoteWorker() {
  while (true) {
    Call* call = nullptr;
    {
      absl::MutexLock lock(&remote_mutex_);
      remote_mutex_.Await(absl::Condition(this, &SearchDispatcher::RemoteWorkerMayGo));
      if (remote_calls_.empty()) return;  // closed: no call will come
      call = remote_calls_.front();
      remote_calls_.pop_front();
    }
    Answer(call, grpc::Status::OK);
  }
}

}  // namespace quarry::server
