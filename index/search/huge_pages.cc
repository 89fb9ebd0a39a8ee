#include "index/search/huge_pages.h"

#include <faiss/IndexFlatCodes.h>
#include <faiss/IndexHNSW.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace quarry {
namespace {

constexpr uintptr_t kHugePageBytes = uintptr_t{2} << 20;
constexpr uintptr_t kSliceBytes = 16 * kHugePageBytes;
// Linux 6.1's value; Debian 12's glibc headers predate it.
constexpr int kMadviseCollapse = 25;

}  // namespace

bool CollapseRangeToHugePages(const void* data, size_t bytes, const CollapseStop& stop) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(data);
  const uintptr_t begin = (address + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  const uintptr_t end = (address + bytes) & ~(kHugePageBytes - 1);
  if (end <= begin) return false;
  // The hint keeps khugepaged from splitting them again and lets it redo the work later if
  // a collapse below fails for want of free huge pages.
  madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  bool collapsed = false;
  for (uintptr_t slice = begin; slice < end; slice += kSliceBytes) {
    if (stop && stop()) break;
    const size_t length = std::min<uintptr_t>(kSliceBytes, end - slice);
    // A slice the kernel could not collapse (no free huge page, a page it could not move) stays
    // as it was; the next ones may still succeed.
    if (madvise(reinterpret_cast<void*>(slice), length, kMadviseCollapse) == 0) collapsed = true;
  }
  return collapsed;
}

bool CollapseIndexToHugePages(const faiss::Index& index, const CollapseStop& stop) {
  bool collapsed = false;
  const faiss::Index* storage = &index;
  if (const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(storage)) {
    const std::vector<faiss::HNSW::storage_idx_t>& neighbors = hnsw->hnsw.neighbors;
    collapsed = CollapseRangeToHugePages(neighbors.data(), neighbors.size() * sizeof(neighbors[0]),
                                         stop);
    storage = hnsw->storage;
  }
  if (const auto* flat = dynamic_cast<const faiss::IndexFlatCodes*>(storage)) {
    collapsed = CollapseRangeToHugePages(flat->codes.data(), flat->codes.size(), stop) || collapsed;
  }
  return collapsed;
}

}  // namespace quarry
