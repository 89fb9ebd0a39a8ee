#include "index/search/filter.h"

#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "index/document.h"

namespace quarry {
namespace {

// Deeper trees are rejected before evaluation so that FilterMatches, which recurses, has a
// bounded stack depth whatever a caller sends.
constexpr int kMaxDepth = 32;
constexpr size_t kMaxInValues = 1024;

absl::string_view KindName(Filter::Kind kind) {
  switch (kind) {
    case Filter::Kind::kEquals:
      return "equals";
    case Filter::Kind::kIn:
      return "in";
    case Filter::Kind::kRange:
      return "range";
    case Filter::Kind::kAll:
      return "all";
    case Filter::Kind::kAny:
      return "any";
    case Filter::Kind::kNot:
      return "not";
  }
  return "unknown";
}

absl::Status Invalid(absl::string_view clause, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(clause, ": ", problem));
}

// `path` names where the clause sits ("filter", "filter.all[2]"); the clause itself is named
// by appending its kind, so messages read "filter.all[2].range: ...".
absl::Status Validate(const Filter& filter, const std::string& path, int depth) {
  const std::string clause = absl::StrCat(path, ".", KindName(filter.kind));
  if (depth > kMaxDepth) {
    return Invalid(clause, absl::StrCat("filters may nest at most ", kMaxDepth, " levels"));
  }
  switch (filter.kind) {
    case Filter::Kind::kEquals:
      if (filter.field.empty()) return Invalid(clause, "field name is empty");
      if (filter.values.size() != 1) {
        return Invalid(clause, absl::StrCat("needs exactly one value, got ", filter.values.size()));
      }
      return absl::OkStatus();
    case Filter::Kind::kIn:
      if (filter.field.empty()) return Invalid(clause, "field name is empty");
      if (filter.values.empty() || filter.values.size() > kMaxInValues) {
        return Invalid(clause, absl::StrCat("needs 1 to ", kMaxInValues, " values, got ",
                                            filter.values.size()));
      }
      return absl::OkStatus();
    case Filter::Kind::kRange: {
      if (filter.field.empty()) return Invalid(clause, "field name is empty");
      if (!filter.gt && !filter.gte && !filter.lt && !filter.lte) {
        return Invalid(clause, "needs at least one bound");
      }
      for (const std::optional<double>* bound :
           {&filter.gt, &filter.gte, &filter.lt, &filter.lte}) {
        if (*bound && std::isnan(**bound)) return Invalid(clause, "bound is NaN");
      }
      return absl::OkStatus();
    }
    case Filter::Kind::kAll:
    case Filter::Kind::kAny:
      if (filter.children.empty()) return Invalid(clause, "needs at least one child clause");
      for (size_t i = 0; i < filter.children.size(); ++i) {
        absl::Status status =
            Validate(filter.children[i], absl::StrCat(clause, "[", i, "]"), depth + 1);
        if (!status.ok()) return status;
      }
      return absl::OkStatus();
    case Filter::Kind::kNot:
      if (filter.children.size() != 1) {
        return Invalid(
            clause, absl::StrCat("needs exactly one child clause, got ", filter.children.size()));
      }
      return Validate(filter.children[0], clause, depth + 1);
  }
  return Invalid(clause, "unknown clause kind");
}

bool ValueEquals(const MetadataValue& stored, const MetadataValue& wanted) {
  // Different alternatives never match: "1" is not 1 and true is not 1.
  if (stored.index() != wanted.index()) return false;
  return stored == wanted;
}

}  // namespace

absl::Status ValidateFilter(const Filter& filter) { return Validate(filter, "filter", 1); }

bool FilterMatches(const Filter& filter, const Metadata& metadata) {
  switch (filter.kind) {
    case Filter::Kind::kEquals:
    case Filter::Kind::kIn: {
      const auto it = metadata.find(filter.field);
      if (it == metadata.end()) return false;
      for (const MetadataValue& value : filter.values) {
        if (ValueEquals(it->second, value)) return true;
      }
      return false;
    }
    case Filter::Kind::kRange: {
      const auto it = metadata.find(filter.field);
      if (it == metadata.end()) return false;
      const double* number = std::get_if<double>(&it->second);
      // NaN fails every comparison below, so a NaN value never falls in a range.
      if (number == nullptr) return false;
      const double x = *number;
      if (filter.gt && !(x > *filter.gt)) return false;
      if (filter.gte && !(x >= *filter.gte)) return false;
      if (filter.lt && !(x < *filter.lt)) return false;
      if (filter.lte && !(x <= *filter.lte)) return false;
      return true;
    }
    case Filter::Kind::kAll:
      for (const Filter& child : filter.children) {
        if (!FilterMatches(child, metadata)) return false;
      }
      return true;
    case Filter::Kind::kAny:
      for (const Filter& child : filter.children) {
        if (FilterMatches(child, metadata)) return true;
      }
      return false;
    case Filter::Kind::kNot:
      return !filter.children.empty() && !FilterMatches(filter.children[0], metadata);
  }
  return false;
}

}  // namespace quarry
