#include "bench/random_vectors.h"

#include <cmath>
#include <random>

namespace quarry::bench {

std::vector<float> RandomUnitVectors(int64_t rows, int dimension, uint32_t seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal;
  std::vector<float> vectors(static_cast<size_t>(rows) * dimension);
  for (int64_t i = 0; i < rows; ++i) {
    float* row = vectors.data() + i * dimension;
    float norm = 0;
    for (int j = 0; j < dimension; ++j) {
      row[j] = normal(random);
      norm += row[j] * row[j];
    }
    for (int j = 0; j < dimension; ++j) row[j] /= std::sqrt(norm);
  }
  return vectors;
}

}  // namespace quarry::bench
