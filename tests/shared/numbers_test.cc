// Strict number parsing and float formatting.
#include "shared/util/numbers.h"

#include <doctest/doctest.h>

using namespace tiercache::util;

TEST_CASE("parse_int64 is as strict as Redis's string2ll") {
  CHECK(parse_int64("0") == 0);
  CHECK(parse_int64("-5") == -5);
  CHECK(parse_int64("9223372036854775807") == INT64_MAX);
  CHECK(parse_int64("-9223372036854775808") == INT64_MIN);
  CHECK_FALSE(parse_int64("9223372036854775808"));
  CHECK_FALSE(parse_int64("99999999999999999999"));
  CHECK_FALSE(parse_int64("+1"));
  CHECK_FALSE(parse_int64("01"));
  CHECK_FALSE(parse_int64("-0"));
  CHECK_FALSE(parse_int64(" 1"));
  CHECK_FALSE(parse_int64("1.0"));
  CHECK_FALSE(parse_int64(""));
  CHECK_FALSE(parse_int64("abc"));
}

TEST_CASE("long double formatting like INCRBYFLOAT") {
  CHECK(format_long_double(10.5L + 0.1L) == "10.6");
  CHECK(format_long_double(3.0L) == "3");
  CHECK(format_long_double(-0.0L) == "0");
  CHECK(format_long_double(5.0e3L) == "5000");
  CHECK_FALSE(parse_long_double(" 1.5"));
  CHECK_FALSE(parse_long_double("nan"));
  CHECK(parse_long_double("1.5e2") == 150.0L);
}
