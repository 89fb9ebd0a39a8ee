#include "index/readers/npy_file.h"

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "index/store/filesystem.h"

namespace quarry {
namespace {

constexpr absl::string_view kMagic("\x93NUMPY", 6);

// The value of `key` in the header's Python dict literal, e.g. "'<f4'" or "(1000, 384)".
absl::string_view HeaderValue(absl::string_view header, absl::string_view key) {
  const std::string quoted = absl::StrCat("'", key, "':");
  const size_t at = header.find(quoted);
  if (at == absl::string_view::npos) return {};
  absl::string_view rest = header.substr(at + quoted.size());
  rest = absl::StripLeadingAsciiWhitespace(rest);
  if (rest.empty()) return {};
  const size_t end = rest.front() == '(' ? rest.find(')') + 1 : rest.find_first_of(",}");
  return rest.substr(0, end);
}

template <typename T>
absl::StatusOr<NpyMatrix<T>> ReadNpy(const std::string& path, absl::string_view dtype) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  auto invalid = [&path](absl::string_view why) -> absl::Status {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a supported .npy file: ", why));
  };
  const absl::string_view data = *bytes;
  if (data.size() < 10 || data.substr(0, kMagic.size()) != kMagic) return invalid("bad magic");
  const uint8_t major = static_cast<uint8_t>(data[6]);
  size_t header_length = 0;
  size_t header_start = 0;
  if (major == 1) {
    header_length = static_cast<uint8_t>(data[8]) | (static_cast<uint8_t>(data[9]) << 8);
    header_start = 10;
  } else if ((major == 2 || major == 3) && data.size() >= 12) {
    for (int i = 3; i >= 0; --i) {
      header_length = (header_length << 8) | static_cast<uint8_t>(data[8 + i]);
    }
    header_start = 12;
  } else {
    return invalid(absl::StrCat("format version ", major));
  }
  if (data.size() < header_start + header_length) return invalid("truncated header");
  const absl::string_view header = data.substr(header_start, header_length);
  if (HeaderValue(header, "descr") != absl::StrCat("'", dtype, "'")) {
    return invalid(absl::StrCat("dtype ", HeaderValue(header, "descr"), ", expected ", dtype));
  }
  if (HeaderValue(header, "fortran_order") != "False") return invalid("Fortran order");
  absl::string_view shape = HeaderValue(header, "shape");
  if (shape.size() < 2) return invalid("no shape");
  shape = shape.substr(1, shape.size() - 2);
  std::vector<int64_t> dimensions;
  for (absl::string_view part : absl::StrSplit(shape, ',', absl::SkipWhitespace())) {
    int64_t dimension = 0;
    if (!absl::SimpleAtoi(part, &dimension) || dimension < 0) return invalid("bad shape");
    dimensions.push_back(dimension);
  }
  if (dimensions.empty() || dimensions.size() > 2) return invalid("not 1-D or 2-D");
  NpyMatrix<T> matrix;
  matrix.rows = dimensions[0];
  matrix.columns = dimensions.size() == 2 ? dimensions[1] : 1;
  const absl::string_view payload = data.substr(header_start + header_length);
  const size_t expected = static_cast<size_t>(matrix.rows * matrix.columns) * sizeof(T);
  if (payload.size() != expected) {
    return invalid(absl::StrCat(payload.size(), " data bytes, expected ", expected));
  }
  matrix.values.resize(static_cast<size_t>(matrix.rows * matrix.columns));
  std::memcpy(matrix.values.data(), payload.data(), expected);
  return matrix;
}

}  // namespace

absl::StatusOr<NpyMatrix<float>> ReadNpyFloat32(const std::string& path) {
  return ReadNpy<float>(path, "<f4");
}

absl::StatusOr<NpyMatrix<int64_t>> ReadNpyInt64(const std::string& path) {
  return ReadNpy<int64_t>(path, "<i8");
}

}  // namespace quarry
