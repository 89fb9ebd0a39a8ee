#include "client/filter_expression.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace quarry::client {
namespace {

using quarry::v1::Filter;
using quarry::v1::MetadataValue;

Filter Parse(const std::string& expression) {
  absl::StatusOr<Filter> filter = ParseFilterExpression(expression);
  INFO(expression << ": " << filter.status().ToString());
  REQUIRE(filter.ok());
  return *filter;
}

std::string ErrorOf(const std::string& expression) {
  absl::StatusOr<Filter> filter = ParseFilterExpression(expression);
  REQUIRE_FALSE(filter.ok());
  CHECK(filter.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(filter.status().message());
}

TEST_CASE("Equality values are typed: number, bool, string", "[filter]") {
  Filter number = Parse("year=2021");
  REQUIRE(number.has_equals());
  CHECK(number.equals().field() == "year");
  CHECK(number.equals().value().number_value() == 2021.0);

  CHECK(Parse("score=-0.5").equals().value().number_value() == -0.5);
  CHECK(Parse("big=1e3").equals().value().number_value() == 1000.0);
  CHECK(Parse("plus=+7").equals().value().number_value() == 7.0);

  Filter flag = Parse("draft=false");
  REQUIRE(flag.equals().value().kind_case() == MetadataValue::kBoolValue);
  CHECK_FALSE(flag.equals().value().bool_value());
  CHECK(Parse("draft=true").equals().value().bool_value());

  Filter text = Parse("lang=en");
  CHECK(text.equals().value().string_value() == "en");
  // Not a number in full, or not a finite one: a string.
  CHECK(Parse("v=12abc").equals().value().string_value() == "12abc");
  CHECK(Parse("v=inf").equals().value().string_value() == "inf");
  CHECK(Parse("v=True").equals().value().string_value() == "True");
  // A value may contain the operator characters after the first operator.
  CHECK(Parse("url=a=b<c").equals().value().string_value() == "a=b<c");
}

TEST_CASE("Quotes force a string", "[filter]") {
  CHECK(Parse("year='2021'").equals().value().string_value() == "2021");
  CHECK(Parse("flag=\"true\"").equals().value().string_value() == "true");
  CHECK(Parse("empty=''").equals().value().string_value().empty());
  CHECK(Parse("title='a | b'").equals().value().string_value() == "a | b");
  CHECK(Parse("spaced = ' padded '").equals().value().string_value() == " padded ");
}

TEST_CASE("Whitespace and == are tolerated", "[filter]") {
  Filter filter = Parse("  year >= 2020 ");
  REQUIRE(filter.has_range());
  CHECK(filter.range().field() == "year");
  CHECK(filter.range().gte() == 2020.0);
  CHECK(Parse("lang==en").equals().value().string_value() == "en");
}

TEST_CASE("Not equal wraps equals in not", "[filter]") {
  Filter filter = Parse("lang!=en");
  REQUIRE(filter.has_not_());
  REQUIRE(filter.not_().has_equals());
  CHECK(filter.not_().equals().field() == "lang");
  CHECK(filter.not_().equals().value().string_value() == "en");
}

TEST_CASE("a|b|c is a set", "[filter]") {
  Filter filter = Parse("lang=en|de|'3'|4|true");
  REQUIRE(filter.has_in());
  CHECK(filter.in().field() == "lang");
  REQUIRE(filter.in().values_size() == 5);
  CHECK(filter.in().values(0).string_value() == "en");
  CHECK(filter.in().values(1).string_value() == "de");
  CHECK(filter.in().values(2).string_value() == "3");
  CHECK(filter.in().values(3).number_value() == 4.0);
  CHECK(filter.in().values(4).bool_value());

  Filter quoted = Parse("tag='a|b'|c");
  REQUIRE(quoted.in().values_size() == 2);
  CHECK(quoted.in().values(0).string_value() == "a|b");

  Filter negated = Parse("lang!=en|de");
  REQUIRE(negated.has_not_());
  CHECK(negated.not_().in().values_size() == 2);
}

TEST_CASE("Ranges set exactly one bound", "[filter]") {
  Filter gt = Parse("year>2000");
  CHECK(gt.range().has_gt());
  CHECK_FALSE(gt.range().has_gte());
  CHECK(gt.range().gt() == 2000.0);
  CHECK(Parse("year>=2000").range().gte() == 2000.0);
  Filter lt = Parse("price<9.5");
  CHECK(lt.range().has_lt());
  CHECK(lt.range().lt() == 9.5);
  Filter lte = Parse("price<=-1");
  CHECK(lte.range().has_lte());
  CHECK(lte.range().lte() == -1.0);
}

TEST_CASE("Field names follow the metadata key rule", "[filter]") {
  CHECK(Parse("a.b-c_D9=1").equals().field() == "a.b-c_D9");
  CHECK_THAT(ErrorOf("bad key=1"), Catch::Contains("may only hold"));
  CHECK_THAT(ErrorOf("=1"), Catch::Contains("missing field name"));
  CHECK_THAT(ErrorOf(std::string(129, 'f') + "=1"), Catch::Contains("longer than 128"));
}

TEST_CASE("Malformed expressions are errors quoting them", "[filter]") {
  CHECK_THAT(ErrorOf("justtext"), Catch::Contains("filter \"justtext\""));
  CHECK_THAT(ErrorOf("year="), Catch::Contains("missing value"));
  CHECK_THAT(ErrorOf("year>="), Catch::Contains("missing value"));
  CHECK_THAT(ErrorOf("year>abc"), Catch::Contains("not a number"));
  CHECK_THAT(ErrorOf("year<'5'"), Catch::Contains("not a number"));
  CHECK_THAT(ErrorOf("lang=en||de"), Catch::Contains("empty value"));
  CHECK_THAT(ErrorOf("lang='en"), Catch::Contains("unterminated quote"));
  CHECK_THAT(ErrorOf("lang!en"), Catch::Contains("unknown operator"));
}

TEST_CASE("Several expressions are ANDed", "[filter]") {
  absl::StatusOr<Filter> one = ParseFilterExpressions({"lang=en"});
  REQUIRE(one.ok());
  CHECK(one->has_equals());

  absl::StatusOr<Filter> both = ParseFilterExpressions({"lang=en", "year>=2020", "year<2023"});
  REQUIRE(both.ok());
  REQUIRE(both->has_all());
  REQUIRE(both->all().filters_size() == 3);
  CHECK(both->all().filters(0).has_equals());
  CHECK(both->all().filters(1).range().gte() == 2020.0);
  CHECK(both->all().filters(2).range().lt() == 2023.0);

  CHECK_FALSE(ParseFilterExpressions({}).ok());
  absl::StatusOr<Filter> bad = ParseFilterExpressions({"lang=en", "oops"});
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(std::string(bad.status().message()), Catch::Contains("oops"));
}

}  // namespace
}  // namespace quarry::client
