// Metadata filters: a small boolean expression tree over document metadata, and its
// evaluation. Comparisons on a field the document lacks, or of a different type, are false.
#ifndef QUARRY_INDEX_SEARCH_FILTER_H_
#define QUARRY_INDEX_SEARCH_FILTER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "index/document.h"

namespace quarry {

struct Filter {
  enum class Kind { kEquals, kIn, kRange, kAll, kAny, kNot };
  Kind kind = Kind::kAll;
  std::string field;                  // kEquals, kIn, kRange
  std::vector<MetadataValue> values;  // kEquals: exactly one; kIn: 1..1024
  std::optional<double> gt, gte, lt, lte;  // kRange: at least one
  std::vector<Filter> children;       // kAll, kAny: at least one; kNot: exactly one
};

// INVALID_ARGUMENT, naming the offending clause, for: an empty field name, a wrong number of
// values or children, a range without bounds or with NaN bounds, nesting deeper than 32.
absl::Status ValidateFilter(const Filter& filter);

// Precondition: ValidateFilter(filter).ok().
bool FilterMatches(const Filter& filter, const Metadata& metadata);

}  // namespace quarry

#endif  // QUARRY_INDEX_SEARCH_FILTER_H_
