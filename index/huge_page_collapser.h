// One background thread that moves newly loaded shards' dense indexes onto huge pages
// (search/huge_pages.h): searches on them stop paying for TLB misses, and neither a shard load
// nor a server's start or stop waits for the collapse (2-4 s for a 1M x 384 HNSW shard).
//
// Shards are held weakly: one that is no longer served by the time its turn comes is skipped,
// and one released while it is being collapsed is left after the current slice.
#ifndef QUARRY_INDEX_HUGE_PAGE_COLLAPSER_H_
#define QUARRY_INDEX_HUGE_PAGE_COLLAPSER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "index/shard/shard.h"

namespace quarry {

class HugePageCollapser {
 public:
  HugePageCollapser();
  // Drops what is still queued and stops the shard in progress after its current slice.
  ~HugePageCollapser();
  HugePageCollapser(const HugePageCollapser&) = delete;
  HugePageCollapser& operator=(const HugePageCollapser&) = delete;

  void Add(std::weak_ptr<const Shard> shard);

  // Blocks until every shard added so far has been handled (tests, benchmarks).
  void WaitUntilIdle();

  // Shards whose index the kernel collapsed (some memory moved to huge pages).
  int64_t collapsed() const;

 private:
  void Work();
  bool stopping() const {
    absl::MutexLock lock(&mutex_);
    return stopping_;
  }

  mutable absl::Mutex mutex_;
  std::deque<std::weak_ptr<const Shard>> queue_ ABSL_GUARDED_BY(mutex_);
  bool working_ ABSL_GUARDED_BY(mutex_) = false;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  int64_t collapsed_ ABSL_GUARDED_BY(mutex_) = 0;
  std::thread thread_;
};

}  // namespace quarry

#endif  // QUARRY_INDEX_HUGE_PAGE_COLLAPSER_H_
