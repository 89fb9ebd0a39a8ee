#include "index/search/vector_distance.h"

#include <faiss/utils/distances.h>

#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace quarry {
namespace {

#if defined(__x86_64__)

// Eight lanes times four sums: the additions no longer wait on one another, and each step's
// two loads, not the latency of one chain of additions, set the pace.
constexpr size_t kBlock = 32;
constexpr size_t kLanes = 8;

__attribute__((target("avx2,fma"))) float HorizontalSum(__m256 sums) {
  __m128 half = _mm_add_ps(_mm256_castps256_ps128(sums), _mm256_extractf128_ps(sums, 1));
  half = _mm_hadd_ps(half, half);
  half = _mm_hadd_ps(half, half);
  return _mm_cvtss_f32(half);
}

// One 8-lane step of each kernel: `sum` plus the lanes' products or squared differences.
struct InnerProductTerm {
  __attribute__((target("avx2,fma"))) static __m256 Add(__m256 x, __m256 y, __m256 sum) {
    return _mm256_fmadd_ps(x, y, sum);
  }
};
struct SquaredL2Term {
  __attribute__((target("avx2,fma"))) static __m256 Add(__m256 x, __m256 y, __m256 sum) {
    const __m256 difference = _mm256_sub_ps(x, y);
    return _mm256_fmadd_ps(difference, difference, sum);
  }
};

template <typename Term>
__attribute__((target("avx2,fma"))) float SumOfTerms(const float* x, const float* y,
                                                     size_t dimension) {
  // Four named sums (an array of them stays in memory at -O2).
  __m256 sum0 = _mm256_setzero_ps();
  __m256 sum1 = _mm256_setzero_ps();
  __m256 sum2 = _mm256_setzero_ps();
  __m256 sum3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + kBlock <= dimension; i += kBlock) {
    sum0 = Term::Add(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), sum0);
    sum1 = Term::Add(_mm256_loadu_ps(x + i + kLanes), _mm256_loadu_ps(y + i + kLanes), sum1);
    sum2 =
        Term::Add(_mm256_loadu_ps(x + i + 2 * kLanes), _mm256_loadu_ps(y + i + 2 * kLanes), sum2);
    sum3 =
        Term::Add(_mm256_loadu_ps(x + i + 3 * kLanes), _mm256_loadu_ps(y + i + 3 * kLanes), sum3);
  }
  for (; i + kLanes <= dimension; i += kLanes) {
    sum0 = Term::Add(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), sum0);
  }
  if (i < dimension) {
    // The last 1-7 floats, read through a mask (masked lanes read as 0 and touch no memory).
    alignas(32) int32_t mask_lanes[kLanes];
    for (size_t lane = 0; lane < kLanes; ++lane) mask_lanes[lane] = i + lane < dimension ? -1 : 0;
    const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(mask_lanes));
    sum1 = Term::Add(_mm256_maskload_ps(x + i, mask), _mm256_maskload_ps(y + i, mask), sum1);
  }
  return HorizontalSum(_mm256_add_ps(_mm256_add_ps(sum0, sum1), _mm256_add_ps(sum2, sum3)));
}

__attribute__((target("avx2,fma"))) float InnerProductAvx2(const float* x, const float* y,
                                                           size_t dimension) {
  return SumOfTerms<InnerProductTerm>(x, y, dimension);
}

__attribute__((target("avx2,fma"))) float SquaredL2Avx2(const float* x, const float* y,
                                                        size_t dimension) {
  return SumOfTerms<SquaredL2Term>(x, y, dimension);
}

#endif  // __x86_64__

}  // namespace

VectorKernels FastestVectorKernels() {
  // The CPU is asked once per process.
  static const VectorKernels kFastest = [] {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      return VectorKernels{InnerProductAvx2, SquaredL2Avx2};
    }
#endif
    return FaissVectorKernels();
  }();
  return kFastest;
}

VectorKernels FaissVectorKernels() { return {faiss::fvec_inner_product, faiss::fvec_L2sqr}; }

}  // namespace quarry
