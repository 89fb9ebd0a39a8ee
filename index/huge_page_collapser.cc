#include "index/huge_page_collapser.h"

#include <utility>

namespace quarry {

HugePageCollapser::HugePageCollapser() : thread_([this] { Work(); }) {}

HugePageCollapser::~HugePageCollapser() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
    queue_.clear();
  }
  thread_.join();
}

void HugePageCollapser::Add(std::weak_ptr<const Shard> shard) {
  absl::MutexLock lock(&mutex_);
  if (!stopping_) queue_.push_back(std::move(shard));
}

void HugePageCollapser::WaitUntilIdle() {
  absl::MutexLock lock(&mutex_);
  mutex_.Await(absl::Condition(
      +[](HugePageCollapser* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mutex_) {
        return self->queue_.empty() && !self->working_;
      },
      this));
}

int64_t HugePageCollapser::collapsed() const {
  absl::MutexLock lock(&mutex_);
  return collapsed_;
}

void HugePageCollapser::Work() {
  while (true) {
    std::shared_ptr<const Shard> shard;
    {
      absl::MutexLock lock(&mutex_);
      mutex_.Await(absl::Condition(
          +[](HugePageCollapser* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mutex_) {
            return !self->queue_.empty() || self->stopping_;
          },
          this));
      if (stopping_) return;
      shard = queue_.front().lock();
      queue_.pop_front();
      working_ = shard != nullptr;
    }
    if (shard == nullptr) continue;
    // Stops early too when the shard stops being served midway (the server shuts down, a merge
    // replaces it): then only this thread still holds it.
    const bool collapsed = shard->dense().CollapseToHugePages(
        [this, &shard] { return stopping() || shard.use_count() == 1; });
    absl::MutexLock lock(&mutex_);
    working_ = false;
    if (collapsed) ++collapsed_;
  }
}

}  // namespace quarry
