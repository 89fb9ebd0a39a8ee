// The CLI's filter syntax, parsed into the API's Filter message.
//
// One expression is one comparison on a metadata field:
//   field=value      equals; value is a number if it parses fully as one ("2021", "-0.5",
//                    "1e3"), true/false is a bool, anything else a string. Quote it with '...'
//                    or "..." to force a string: year='2021'.
//   field!=value     not equal (also matches documents without the field)
//   field=a|b|c      in the set; each element follows the value rules above, and a quoted
//                    element may contain '|': tag='a|b'|c
//   field!=a|b|c     not in the set
//   field>N  field>=N  field<N  field<=N
//                    numeric range; N must be a number
// Field names are 1..128 characters of [A-Za-z0-9_.-] (the API's metadata key rule).
// Whitespace around the field, the operator and each value is ignored ("year >= 2020").
// Several expressions are ANDed.
#ifndef QUARRY_CLIENT_FILTER_EXPRESSION_H_
#define QUARRY_CLIENT_FILTER_EXPRESSION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "quarry/v1/quarry.pb.h"

namespace quarry::client {

// INVALID_ARGUMENT, quoting the expression, when it does not follow the syntax above.
absl::StatusOr<quarry::v1::Filter> ParseFilterExpression(absl::string_view expression);

// All of `expressions` ANDed: the single filter itself when there is one, else an `all` list.
// INVALID_ARGUMENT if `expressions` is empty or any of them is invalid.
absl::StatusOr<quarry::v1::Filter> ParseFilterExpressions(
    const std::vector<std::string>& expressions);

}  // namespace quarry::client

#endif  // QUARRY_CLIENT_FILTER_EXPRESSION_H_
