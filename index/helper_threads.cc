#include "index/helper_threads.h"

#include "absl/synchronization/notification.h"

namespace quarry {

struct HelperThreads::Task {
  explicit Task(absl::FunctionRef<void()> function) : function(function) {}
  absl::FunctionRef<void()> function;
  absl::Notification done;
};

HelperThreads::HelperThreads(int count) {
  {
    absl::MutexLock lock(&mutex_);
    idle_ = count > 0 ? count : 0;
  }
  for (int i = 0; i < count; ++i) threads_.emplace_back([this] { Work(); });
}

HelperThreads::~HelperThreads() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

void HelperThreads::RunBoth(absl::FunctionRef<void()> first, absl::FunctionRef<void()> second) {
  Task task(second);
  bool handed_over = false;
  {
    absl::MutexLock lock(&mutex_);
    if (idle_ > 0 && !stopping_) {
      --idle_;
      tasks_.push_back(&task);
      handed_over = true;
    }
  }
  first();
  if (handed_over) {
    task.done.WaitForNotification();
  } else {
    second();
  }
}

void HelperThreads::Work() {
  while (true) {
    Task* task = nullptr;
    {
      absl::MutexLock lock(&mutex_);
      mutex_.Await(absl::Condition(
          +[](HelperThreads* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mutex_) {
            return !self->tasks_.empty() || self->stopping_;
          },
          this));
      // A promised task is run even while stopping: its caller is waiting for it.
      if (tasks_.empty()) return;
      task = tasks_.front();
      tasks_.pop_front();
    }
    task->function();
    // Idle again before the caller wakes, so its next RunBoth may hand over at once.
    {
      absl::MutexLock lock(&mutex_);
      ++idle_;
    }
    task->done.Notify();
  }
}

}  // namespace quarry
