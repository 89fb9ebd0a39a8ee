#include "index/search/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>

namespace quarry {
namespace {

constexpr uintptr_t kHugePageBytes = uintptr_t{2} << 20;
// Linux 6.1's value; Debian 12's glibc headers predate it.
constexpr int kMadviseCollapse = 25;

}  // namespace

bool CollapseRangeToHugePages(const void* data, size_t bytes) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(data);
  const uintptr_t begin = (address + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  const uintptr_t end = (address + bytes) & ~(kHugePageBytes - 1);
  if (end <= begin) return false;
  void* const start = reinterpret_cast<void*>(begin);
  const size_t length = end - begin;
  // The hint keeps khugepaged from splitting them again and lets it redo the work later if
  // the collapse below fails for want of free huge pages.
  madvise(start, length, MADV_HUGEPAGE);
  return madvise(start, length, kMadviseCollapse) == 0;
}

}  // namespace quarry
