#include "client/filter_expression.h"

#include <charconv>
#include <cmath>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace quarry::client {
namespace {

using quarry::v1::Filter;
using quarry::v1::MetadataValue;

constexpr size_t kMaxFieldBytes = 128;

enum class Operator { kEquals, kNotEquals, kGreater, kGreaterOrEqual, kLess, kLessOrEqual };

absl::Status Invalid(absl::string_view expression, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("filter \"", expression, "\": ", problem));
}

bool IsFieldCharacter(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

// A finite number spelled entirely by `text` (an optional leading '+' allowed), or nullopt.
std::optional<double> ParseNumber(absl::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  // from_chars accepts "inf" and "nan"; neither is a usable filter bound or value.
  if (error != std::errc() || stop != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

bool IsQuote(char c) { return c == '\'' || c == '"'; }

// One value: quoted → string; true/false → bool; a number → number; else a string.
absl::StatusOr<MetadataValue> ParseValue(absl::string_view expression, absl::string_view text) {
  MetadataValue value;
  if (text.empty()) return Invalid(expression, "missing value");
  if (IsQuote(text.front())) {
    if (text.size() < 2 || text.back() != text.front()) {
      return Invalid(expression, "unterminated quote");
    }
    value.set_string_value(std::string(text.substr(1, text.size() - 2)));
    return value;
  }
  if (text == "true" || text == "false") {
    value.set_bool_value(text == "true");
  } else if (std::optional<double> number = ParseNumber(text)) {
    value.set_number_value(*number);
  } else {
    value.set_string_value(std::string(text));
  }
  return value;
}

// Splits `text` on '|' outside quotes; each part trimmed.
absl::StatusOr<std::vector<absl::string_view>> SplitAlternatives(absl::string_view expression,
                                                                 absl::string_view text) {
  std::vector<absl::string_view> parts;
  char quote = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (IsQuote(c)) {
      quote = c;
    } else if (c == '|') {
      parts.push_back(absl::StripAsciiWhitespace(text.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (quote != 0) return Invalid(expression, "unterminated quote");
  parts.push_back(absl::StripAsciiWhitespace(text.substr(start)));
  return parts;
}

// Reads the operator at the start of `text`; sets *length to its length in characters.
std::optional<Operator> ReadOperator(absl::string_view text, size_t* length) {
  struct Spelling {
    absl::string_view text;
    Operator op;
  };
  // Two-character spellings first, so that ">=" is not read as ">" followed by "=5".
  static constexpr Spelling kSpellings[] = {
      {"!=", Operator::kNotEquals},   {">=", Operator::kGreaterOrEqual},
      {"<=", Operator::kLessOrEqual}, {"==", Operator::kEquals},
      {"=", Operator::kEquals},       {">", Operator::kGreater},
      {"<", Operator::kLess},
  };
  for (const Spelling& spelling : kSpellings) {
    if (absl::StartsWith(text, spelling.text)) {
      *length = spelling.text.size();
      return spelling.op;
    }
  }
  return std::nullopt;
}

absl::StatusOr<Filter> EqualityFilter(absl::string_view expression, const std::string& field,
                                      absl::string_view values_text, bool negate) {
  absl::StatusOr<std::vector<absl::string_view>> parts = SplitAlternatives(expression, values_text);
  if (!parts.ok()) return parts.status();
  Filter filter;
  if (parts->size() == 1) {
    absl::StatusOr<MetadataValue> value = ParseValue(expression, parts->front());
    if (!value.ok()) return value.status();
    filter.mutable_equals()->set_field(field);
    *filter.mutable_equals()->mutable_value() = *std::move(value);
  } else {
    filter.mutable_in()->set_field(field);
    for (absl::string_view part : *parts) {
      if (part.empty()) return Invalid(expression, "empty value in a|b|c list");
      absl::StatusOr<MetadataValue> value = ParseValue(expression, part);
      if (!value.ok()) return value.status();
      *filter.mutable_in()->add_values() = *std::move(value);
    }
  }
  if (!negate) return filter;
  Filter negated;
  *negated.mutable_not_() = std::move(filter);
  return negated;
}

absl::StatusOr<Filter> RangeFilter(absl::string_view expression, const std::string& field,
                                   Operator op, absl::string_view bound_text) {
  if (bound_text.empty()) return Invalid(expression, "missing value");
  const std::optional<double> bound = ParseNumber(bound_text);
  if (!bound) {
    return Invalid(expression, absl::StrCat("<, <=, > and >= compare numbers; \"", bound_text,
                                            "\" is not a number"));
  }
  Filter filter;
  quarry::v1::FieldRange* range = filter.mutable_range();
  range->set_field(field);
  switch (op) {
    case Operator::kGreater:
      range->set_gt(*bound);
      break;
    case Operator::kGreaterOrEqual:
      range->set_gte(*bound);
      break;
    case Operator::kLess:
      range->set_lt(*bound);
      break;
    case Operator::kLessOrEqual:
      range->set_lte(*bound);
      break;
    case Operator::kEquals:
    case Operator::kNotEquals:
      break;  // handled by EqualityFilter
  }
  return filter;
}

}  // namespace

absl::StatusOr<Filter> ParseFilterExpression(absl::string_view expression) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(expression);
  const size_t op_position = trimmed.find_first_of("=!<>");
  if (op_position == absl::string_view::npos) {
    return Invalid(expression,
                   "expected FIELD=VALUE, FIELD!=VALUE, FIELD=A|B|C, FIELD>N, FIELD>=N, "
                   "FIELD<N or FIELD<=N");
  }
  const absl::string_view field = absl::StripAsciiWhitespace(trimmed.substr(0, op_position));
  if (field.empty()) return Invalid(expression, "missing field name before the operator");
  if (field.size() > kMaxFieldBytes) {
    return Invalid(expression, absl::StrCat("field name longer than ", kMaxFieldBytes, " bytes"));
  }
  for (char c : field) {
    if (!IsFieldCharacter(c)) {
      return Invalid(expression,
                     absl::StrCat("field name \"", field,
                                  "\" may only hold letters, digits, '_', '.' and '-'"));
    }
  }

  size_t op_length = 0;
  const std::optional<Operator> op = ReadOperator(trimmed.substr(op_position), &op_length);
  if (!op) return Invalid(expression, "unknown operator (use =, !=, >, >=, < or <=)");
  const absl::string_view value_text =
      absl::StripAsciiWhitespace(trimmed.substr(op_position + op_length));

  const std::string field_name(field);
  if (*op == Operator::kEquals || *op == Operator::kNotEquals) {
    return EqualityFilter(expression, field_name, value_text, *op == Operator::kNotEquals);
  }
  return RangeFilter(expression, field_name, *op, value_text);
}

absl::StatusOr<Filter> ParseFilterExpressions(const std::vector<std::string>& expressions) {
  if (expressions.empty()) return absl::InvalidArgumentError("no filter expressions");
  if (expressions.size() == 1) return ParseFilterExpression(expressions.front());
  Filter filter;
  for (const std::string& expression : expressions) {
    absl::StatusOr<Filter> clause = ParseFilterExpression(expression);
    if (!clause.ok()) return clause.status();
    *filter.mutable_all()->add_filters() = *std::move(clause);
  }
  return filter;
}

}  // namespace quarry::client
