#include "index/search/filter.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "index/document.h"

namespace quarry {
namespace {

Filter Equals(std::string field, MetadataValue value) {
  Filter f;
  f.kind = Filter::Kind::kEquals;
  f.field = std::move(field);
  f.values = {std::move(value)};
  return f;
}

Filter In(std::string field, std::vector<MetadataValue> values) {
  Filter f;
  f.kind = Filter::Kind::kIn;
  f.field = std::move(field);
  f.values = std::move(values);
  return f;
}

Filter Range(std::string field) {
  Filter f;
  f.kind = Filter::Kind::kRange;
  f.field = std::move(field);
  return f;
}

Filter Node(Filter::Kind kind, std::vector<Filter> children) {
  Filter f;
  f.kind = kind;
  f.children = std::move(children);
  return f;
}

Filter All(std::vector<Filter> children) { return Node(Filter::Kind::kAll, std::move(children)); }
Filter Any(std::vector<Filter> children) { return Node(Filter::Kind::kAny, std::move(children)); }
Filter Not(Filter child) { return Node(Filter::Kind::kNot, {std::move(child)}); }

const Metadata& Doc() {
  static const Metadata* const doc =
      new Metadata{{"lang", std::string("en")}, {"year", 2020.0}, {"draft", false}, {"score", 0.5}};
  return *doc;
}

// Every filter the tests evaluate must first be valid, as FilterMatches requires.
bool Matches(const Filter& f, const Metadata& m = Doc()) {
  REQUIRE(ValidateFilter(f).ok());
  return FilterMatches(f, m);
}

TEST_CASE("equals compares value and type", "[filter]") {
  CHECK(Matches(Equals("lang", std::string("en"))));
  CHECK_FALSE(Matches(Equals("lang", std::string("de"))));
  CHECK(Matches(Equals("year", 2020.0)));
  CHECK_FALSE(Matches(Equals("year", 2020.5)));
  CHECK(Matches(Equals("draft", false)));
  CHECK_FALSE(Matches(Equals("draft", true)));
  // Type mismatches never match, even when the text or truth value would.
  CHECK_FALSE(Matches(Equals("year", std::string("2020"))));
  CHECK_FALSE(Matches(Equals("draft", 0.0)));
  CHECK_FALSE(Matches(Equals("lang", true)));
  // A missing field never matches.
  CHECK_FALSE(Matches(Equals("author", std::string("en"))));
}

TEST_CASE("in matches any listed value of the right type", "[filter]") {
  CHECK(Matches(In("lang", {std::string("de"), std::string("en")})));
  CHECK_FALSE(Matches(In("lang", {std::string("de"), std::string("fr")})));
  CHECK(Matches(In("year", {std::string("2020"), 1999.0, 2020.0})));
  CHECK_FALSE(Matches(In("year", {std::string("2020"), true})));
  CHECK_FALSE(Matches(In("author", {std::string("en")})));
}

TEST_CASE("range bounds are inclusive or exclusive as asked", "[filter]") {
  Filter f = Range("year");
  f.gte = 2020;
  CHECK(Matches(f));
  f = Range("year");
  f.gt = 2020;
  CHECK_FALSE(Matches(f));
  f = Range("year");
  f.lte = 2020;
  CHECK(Matches(f));
  f = Range("year");
  f.lt = 2020;
  CHECK_FALSE(Matches(f));
  f = Range("year");
  f.gt = 2000;
  f.lt = 2021;
  CHECK(Matches(f));
  f.lt = 2010;
  CHECK_FALSE(Matches(f));
  f = Range("score");
  f.gt = 0.25;
  f.lte = 0.5;
  CHECK(Matches(f));
}

TEST_CASE("range on a non-number or missing field is false", "[filter]") {
  Filter f = Range("lang");
  f.gte = -1e300;
  CHECK_FALSE(Matches(f));
  f.field = "draft";
  CHECK_FALSE(Matches(f));
  f.field = "author";
  CHECK_FALSE(Matches(f));
}

TEST_CASE("all, any and not combine clauses", "[filter]") {
  const Filter en = Equals("lang", std::string("en"));
  const Filter de = Equals("lang", std::string("de"));
  const Filter draft = Equals("draft", true);
  CHECK(Matches(All({en})));
  CHECK_FALSE(Matches(All({en, de})));
  CHECK(Matches(Any({de, en})));
  CHECK_FALSE(Matches(Any({de, draft})));
  CHECK(Matches(Not(de)));
  CHECK_FALSE(Matches(Not(en)));

  Filter old = Range("year");
  old.lt = 2000;
  // not(all(en, any(old, draft))) with en true and the any false: true.
  CHECK(Matches(Not(All({en, Any({old, draft})}))));
  // all(any(de, not(draft)), not(not(en))): true.
  CHECK(Matches(All({Any({de, Not(draft)}), Not(Not(en))})));
  CHECK_FALSE(Matches(All({Any({de, Not(draft)}), Not(Not(de))})));
}

TEST_CASE("not of a comparison that cannot match is true", "[filter]") {
  CHECK(Matches(Not(Equals("author", std::string("x")))));
  CHECK(Matches(Not(Equals("year", std::string("2020")))));
  Filter range = Range("lang");
  range.gt = 0;
  CHECK(Matches(Not(range)));
}

TEST_CASE("filters evaluate against empty metadata", "[filter]") {
  const Metadata empty;
  CHECK_FALSE(Matches(Equals("lang", std::string("en")), empty));
  CHECK(Matches(Not(In("lang", {std::string("en")})), empty));
}

void RequireInvalid(const Filter& f, const std::string& message_part) {
  const absl::Status status = ValidateFilter(f);
  INFO(status.ToString());
  REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(status.message()).find(message_part) != std::string::npos);
}

TEST_CASE("ValidateFilter names the offending clause", "[filter]") {
  Filter no_bounds = Range("year");
  const Filter ok = Equals("lang", std::string("en"));
  REQUIRE(ValidateFilter(ok).ok());
  RequireInvalid(All({ok, ok, no_bounds}), "filter.all[2].range: needs at least one bound");
  RequireInvalid(Equals("", std::string("en")), "filter.equals: field name is empty");
  RequireInvalid(Any({ok, Not(In("", {1.0}))}), "filter.any[1].not.in: field name is empty");

  Filter two_values = ok;
  two_values.values.push_back(std::string("de"));
  RequireInvalid(two_values, "filter.equals:");
  Filter no_values = ok;
  no_values.values.clear();
  RequireInvalid(no_values, "filter.equals:");

  RequireInvalid(In("lang", {}), "filter.in:");
  REQUIRE(ValidateFilter(In("lang", std::vector<MetadataValue>(1024, 1.0))).ok());
  RequireInvalid(In("lang", std::vector<MetadataValue>(1025, 1.0)), "filter.in:");

  Filter nan_bound = Range("year");
  nan_bound.gt = 1;
  nan_bound.lte = std::numeric_limits<double>::quiet_NaN();
  RequireInvalid(nan_bound, "filter.range: bound is NaN");
  Filter empty_field_range = Range("");
  empty_field_range.gt = 1;
  RequireInvalid(empty_field_range, "filter.range: field name is empty");

  RequireInvalid(All({}), "filter.all: needs at least one child");
  RequireInvalid(Any({}), "filter.any: needs at least one child");
  RequireInvalid(Node(Filter::Kind::kNot, {}), "filter.not: needs exactly one child");
  RequireInvalid(Node(Filter::Kind::kNot, {ok, ok}), "filter.not: needs exactly one child");
}

TEST_CASE("ValidateFilter allows 32 levels of nesting and no more", "[filter]") {
  auto nest = [](int levels) {
    Filter f = Equals("lang", std::string("en"));
    for (int i = 1; i < levels; ++i) f = Not(std::move(f));
    return f;
  };
  REQUIRE(ValidateFilter(nest(32)).ok());
  // 32 levels are 31 negations around a true clause.
  CHECK_FALSE(FilterMatches(nest(32), Doc()));
  CHECK(FilterMatches(nest(31), Doc()));
  const absl::Status status = ValidateFilter(nest(33));
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(status.message()).find("nest") != std::string::npos);
}

}  // namespace
}  // namespace quarry
