// Byte-size parsing.
#include "shared/config/size.h"

#include <doctest/doctest.h>

using tiercache::config::parse_size;

TEST_CASE("sizes") {
  CHECK(parse_size("1048576") == 1048576u);
  CHECK(parse_size("64mb") == 64ull << 20);
  CHECK(parse_size("64MiB") == 64ull << 20);
  CHECK(parse_size("1gb") == 1ull << 30);
  CHECK(parse_size("1G") == 1000000000ull);
  CHECK(parse_size("512k") == 512000u);
  CHECK(parse_size("16KiB") == 16384u);
  CHECK_FALSE(parse_size(""));
  CHECK_FALSE(parse_size("-1"));
  CHECK_FALSE(parse_size("12 parsecs"));
  CHECK_FALSE(parse_size("99999999999999999999gb"));
}
