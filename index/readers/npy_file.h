// Reads NumPy .npy files (format 1.x/2.x/3.x) holding a C-ordered 1-D or 2-D array of
// little-endian float32 ('<f4') or int64 ('<i8'): the vectors, queries and exact ground truth
// of ../shared/tools/gen_vectors.py, which `quarry bench` and the benchmarks load.
#ifndef QUARRY_INDEX_READERS_NPY_FILE_H_
#define QUARRY_INDEX_READERS_NPY_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace quarry {

template <typename T>
struct NpyMatrix {
  int64_t rows = 0;
  int64_t columns = 0;  // 1 for a 1-D array
  std::vector<T> values;  // rows x columns, row-major

  const T* row(int64_t i) const { return values.data() + i * columns; }
};

// NOT_FOUND for a missing file; INVALID_ARGUMENT naming the file for anything else than the
// arrays described above (another dtype, Fortran order, more dimensions, truncated data).
absl::StatusOr<NpyMatrix<float>> ReadNpyFloat32(const std::string& path);
absl::StatusOr<NpyMatrix<int64_t>> ReadNpyInt64(const std::string& path);

}  // namespace quarry

#endif  // QUARRY_INDEX_READERS_NPY_FILE_H_
