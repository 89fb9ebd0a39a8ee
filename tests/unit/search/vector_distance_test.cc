#include "index/search/vector_distance.h"

#include <faiss/utils/distances.h>
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

namespace quarry {
namespace {

struct Reference {
  double inner_product = 0;
  double squared_l2 = 0;
  double magnitude = 0;  // the sum of |terms|: the scale a float sum's rounding error goes with
};

Reference Exact(const float* x, const float* y, size_t dimension) {
  Reference reference;
  for (size_t i = 0; i < dimension; ++i) {
    const double product = static_cast<double>(x[i]) * y[i];
    const double difference = static_cast<double>(x[i]) - y[i];
    reference.inner_product += product;
    reference.squared_l2 += difference * difference;
    reference.magnitude += std::abs(product) + difference * difference;
  }
  return reference;
}

TEST_CASE("vector kernels agree with an exact sum for every length", "[vector_distance]") {
  const bool faiss_kernels = GENERATE(false, true);
  const VectorKernels kernels = faiss_kernels ? FaissVectorKernels() : FastestVectorKernels();
  INFO((faiss_kernels ? "FAISS's kernels" : "the fastest kernels"));
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  for (const size_t dimension : {1, 3, 7, 8, 9, 15, 31, 32, 33, 40, 63, 100, 384, 385}) {
    // One float past an aligned start: the kernels must not need aligned vectors.
    std::vector<float> x(dimension + 1);
    std::vector<float> y(dimension + 1);
    for (float& value : x) value = normal(rng);
    for (float& value : y) value = normal(rng);
    const Reference reference = Exact(x.data() + 1, y.data() + 1, dimension);
    const double tolerance = 1e-6 * reference.magnitude + 1e-6;
    INFO("dimension " << dimension);
    CHECK(std::abs(kernels.inner_product(x.data() + 1, y.data() + 1, dimension) -
                   reference.inner_product) <= tolerance);
    CHECK(std::abs(kernels.squared_l2(x.data() + 1, y.data() + 1, dimension) -
                   reference.squared_l2) <= tolerance);
  }
}

TEST_CASE("vector kernels read nothing past the vectors' last float", "[vector_distance]") {
  // Pages: x, unreadable, y, unreadable. Each vector ends where an unreadable page begins, so
  // reading past its end would crash.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* mapping =
      mmap(nullptr, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(mapping != MAP_FAILED);
  auto* bytes = static_cast<char*>(mapping);
  REQUIRE(mprotect(bytes + page, page, PROT_NONE) == 0);
  REQUIRE(mprotect(bytes + 3 * page, page, PROT_NONE) == 0);
  const VectorKernels kernels = FastestVectorKernels();
  for (const size_t dimension : {1, 5, 13, 37}) {
    INFO("dimension " << dimension);
    float* x = reinterpret_cast<float*>(bytes + page) - dimension;
    float* y = reinterpret_cast<float*>(bytes + 3 * page) - dimension;
    for (size_t i = 0; i < dimension; ++i) {
      x[i] = 1.0f;
      y[i] = 2.0f;
    }
    CHECK(kernels.inner_product(x, y, dimension) == 2.0f * static_cast<float>(dimension));
    CHECK(kernels.squared_l2(x, y, dimension) == static_cast<float>(dimension));
  }
  munmap(mapping, 4 * page);
}

TEST_CASE("the fastest kernels are Quarry's own where the CPU has AVX2 and FMA",
          "[vector_distance]") {
  const VectorKernels fastest = FastestVectorKernels();
  const VectorKernels faiss_own = FaissVectorKernels();
  CHECK(faiss_own.inner_product == &faiss::fvec_inner_product);
  CHECK(faiss_own.squared_l2 == &faiss::fvec_L2sqr);
#if defined(__x86_64__)
  const bool vector_units = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  CHECK((fastest.inner_product != faiss_own.inner_product) == vector_units);
  CHECK((fastest.squared_l2 != faiss_own.squared_l2) == vector_units);
#else
  CHECK(fastest.inner_product == faiss_own.inner_product);
#endif
}

}  // namespace
}  // namespace quarry
