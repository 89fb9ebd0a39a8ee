#include "index/readers/npy_file.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace quarry {
namespace {

// A .npy version 1.0 image: magic, header length, the dict padded to 64 bytes, then `data`.
std::string NpyImage(const std::string& dict, const std::string& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string image = "\x93NUMPY";
  image += '\x01';
  image += '\x00';
  image += static_cast<char>(header.size() & 0xff);
  image += static_cast<char>(header.size() >> 8);
  return image + header + data;
}

template <typename T>
std::string Bytes(std::initializer_list<T> values) {
  std::string out(values.size() * sizeof(T), '\0');
  std::memcpy(out.data(), std::data(values), out.size());
  return out;
}

// Writes `contents` to a file removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& contents)
      : path_((std::filesystem::temp_directory_path() /
               ("quarry-npy-" + std::to_string(getpid()) + ".npy"))
                  .string()) {
    std::ofstream(path_, std::ios::binary) << contents;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST_CASE("ReadNpyFloat32 reads a 2-D float32 array row-major") {
  TempFile file(NpyImage("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                         Bytes<float>({1, 2, 3, 4, 5, 6.5f})));
  absl::StatusOr<NpyMatrix<float>> matrix = ReadNpyFloat32(file.path());
  REQUIRE(matrix.ok());
  CHECK(matrix->rows == 2);
  CHECK(matrix->columns == 3);
  CHECK(matrix->row(1)[2] == 6.5f);
  CHECK(matrix->row(0)[1] == 2.0f);
}

TEST_CASE("ReadNpyInt64 reads a 1-D int64 array as one column") {
  TempFile file(NpyImage("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                         Bytes<int64_t>({7, -1, 1LL << 40})));
  absl::StatusOr<NpyMatrix<int64_t>> matrix = ReadNpyInt64(file.path());
  REQUIRE(matrix.ok());
  CHECK(matrix->rows == 3);
  CHECK(matrix->columns == 1);
  CHECK(matrix->values == std::vector<int64_t>{7, -1, 1LL << 40});
}

TEST_CASE("ReadNpy rejects other dtypes, Fortran order, truncation and missing files") {
  const std::string floats = Bytes<float>({1, 2});
  SECTION("dtype") {
    TempFile file(NpyImage("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
                           std::string(8, '\0')));
    CHECK(ReadNpyFloat32(file.path()).status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(ReadNpyInt64(file.path()).status().code() == absl::StatusCode::kInvalidArgument);
  }
  SECTION("fortran order") {
    TempFile file(
        NpyImage("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }", floats));
    CHECK(ReadNpyFloat32(file.path()).status().code() == absl::StatusCode::kInvalidArgument);
  }
  SECTION("truncated data") {
    TempFile file(
        NpyImage("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", floats));
    const absl::Status status = ReadNpyFloat32(file.path()).status();
    CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    CHECK(status.message().find("expected 16") != absl::string_view::npos);
  }
  SECTION("bad magic") {
    TempFile file("not numpy at all");
    CHECK(ReadNpyFloat32(file.path()).status().code() == absl::StatusCode::kInvalidArgument);
  }
  SECTION("missing") {
    CHECK(ReadNpyFloat32("/nonexistent/quarry.npy").status().code() ==
          absl::StatusCode::kNotFound);
  }
}

}  // namespace
}  // namespace quarry
