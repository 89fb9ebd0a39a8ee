// The inner product and squared L2 distance of two float vectors: the kernels behind every
// exact score Quarry's own search code computes (the HNSW loop, the filtered exact scan).
//
// FAISS 1.7.3's AVX2 kernels add every product into one running sum, so each score waits on a
// chain of 48 dependent additions (384 dimensions). Where the CPU has AVX2 and FMA, Quarry's
// keep four independent sums instead (FAISS 1.7.4 and later also give up the single chain: a
// loop the compiler may reorder): 200k x 384 HNSW32, efSearch 128, one thread, 0.37 -> 0.34 ms
// of CPU per query (bench/run_dense.sh with BASELINE_QUARRY_HNSW_SEARCH=1). A sum then differs
// from FAISS 1.7.3's in its last bits, so two nearly equal scores may come out in the other
// order. The exact scan of a filtered search scores with these too, so its scores can differ
// in the last bits from FAISS's unfiltered search of a Flat index.
#ifndef QUARRY_INDEX_SEARCH_VECTOR_DISTANCE_H_
#define QUARRY_INDEX_SEARCH_VECTOR_DISTANCE_H_

#include <cstddef>

namespace quarry {

using VectorKernel = float (*)(const float* x, const float* y, size_t dimension);

struct VectorKernels {
  VectorKernel inner_product;
  VectorKernel squared_l2;
};

// The fastest kernels this CPU runs (FAISS's own where it lacks AVX2 or FMA).
VectorKernels FastestVectorKernels();

// FAISS's own kernels: scores equal to the linked FAISS's, bit for bit.
VectorKernels FaissVectorKernels();

}  // namespace quarry

#endif  // QUARRY_INDEX_SEARCH_VECTOR_DISTANCE_H_
