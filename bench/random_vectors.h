// Random unit vectors (Gaussian directions, L2-normalised) for the micro-benchmarks' synthetic
// indexes and documents: reproducible from the seed.
#ifndef QUARRY_BENCH_RANDOM_VECTORS_H_
#define QUARRY_BENCH_RANDOM_VECTORS_H_

#include <cstdint>
#include <vector>

namespace quarry::bench {

// `rows` x `dimension`, row-major.
std::vector<float> RandomUnitVectors(int64_t rows, int dimension, uint32_t seed);

}  // namespace quarry::bench

#endif  // QUARRY_BENCH_RANDOM_VECTORS_H_
