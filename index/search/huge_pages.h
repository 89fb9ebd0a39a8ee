// Asks the kernel to back a loaded index's hot arrays with 2 MiB pages, in place.
//
// An HNSW search reads a few hundred vectors scattered over the whole index: with 4 KiB pages
// nearly every one of those reads also misses the TLB (200k x 384 floats span 75,000 pages;
// the TLB holds about 2,000), so the search waits on page walks as well as on memory. Backed
// by huge pages the same FAISS search ran 13% faster (200k HNSW32 in process, 2 threads: 4,214
// QPS, 4,754 with `BASELINE_HUGE_PAGES=1 bench/run_dense.sh`). Debian's default THP mode is
// "madvise": only memory that asks gets huge pages, and FAISS reads an index into ordinary
// vectors.
//
// MADV_COLLAPSE (Linux 6.1+) rebuilds the pages of a range as huge pages while readers keep
// using it, but slowly: a 200k x 384 HNSW shard (344 MB) was done ~1.5 s after the server
// listened, a 1M one (1.7 GB) after 2-4 s (AnonHugePages in /proc/PID/smaps_rollup). Too slow
// for a shard's load path, so the caller does it off the serving path
// (index/huge_page_collapser.h). Best effort: an older kernel, THP disabled or no free huge page
// leaves the memory as it was.
#ifndef QUARRY_INDEX_SEARCH_HUGE_PAGES_H_
#define QUARRY_INDEX_SEARCH_HUGE_PAGES_H_

#include <cstddef>
#include <functional>

namespace faiss {
struct Index;
}

namespace quarry {

// Asked between slices of the work: true stops it there (e.g. the process is shutting down).
using CollapseStop = std::function<bool()>;

// Collapses the whole 2 MiB pages inside [data, data + bytes) into huge pages, 32 MiB at a
// time, asking `stop` (when set) before each slice: a caller that stops waits for at most one
// slice (~0.1 s), not the whole range (seconds). A slice the kernel refuses stays as it was and
// the next is still tried. True when some slice was collapsed; false when the kernel refused
// every one, the range holds no whole huge page, or `stop` said so before the first slice.
bool CollapseRangeToHugePages(const void* data, size_t bytes, const CollapseStop& stop = {});

// Collapses what a search of `index` reads at random: the stored vectors of a Flat index, and
// the graph and vectors of an HNSW one over Flat storage. Other index types are left alone.
// True when some memory was collapsed.
bool CollapseIndexToHugePages(const faiss::Index& index, const CollapseStop& stop = {});

}  // namespace quarry

#endif  // QUARRY_INDEX_SEARCH_HUGE_PAGES_H_
