// Unit tests of the tagged entry layout (l1/tagged_entry.h) on bytes laid out as
// python/tiercache/features.py's pack_envelope lays them out.
#include "l1/tagged_entry.h"

#include <doctest/doctest.h>

#include <cstring>
#include <string>

using namespace tiercache::l1;

namespace {
std::string u16(size_t n) {
  return std::string{static_cast<char>(n & 0xff), static_cast<char>(n >> 8)};
}
std::string f64(double d) {
  std::string b(8, '\0');
  std::memcpy(b.data(), &d, 8);  // the test machine is little-endian, as the layout
  return b;
}
std::string entry(double exp, std::string tags_and_value, unsigned n) {
  return std::string(kTaggedMagic) + std::string(1, static_cast<char>(n)) + f64(exp) +
         f64(std::nan("")) + tags_and_value;
}
}  // namespace

TEST_CASE("a tagged entry's tags, expiry and value are read back") {
  const std::string raw =
      entry(12.5, u16(3) + "t:a" + u16(2) + "17" + u16(1) + "b" + u16(0) + "VALUE", 2);
  TaggedEntry e;
  REQUIRE(parse_tagged_entry(raw, &e));
  CHECK(e.tags == 2);
  CHECK(e.expires_at == 12.5);
  CHECK_FALSE(e.refresh_at.has_value());
  CHECK(e.value == "VALUE");
  std::string_view tags = e.tag_bytes, key, token;
  REQUIRE(next_tag(&tags, &key, &token));
  CHECK(key == "t:a");
  CHECK(token == "17");
  REQUIRE(next_tag(&tags, &key, &token));
  CHECK(key == "b");
  CHECK(token.empty());
  CHECK_FALSE(next_tag(&tags, &key, &token));
}

TEST_CASE("a plain value or a truncated entry is not a tagged entry") {
  TaggedEntry e;
  CHECK_FALSE(parse_tagged_entry("\x80\x04plain pickle", &e));
  CHECK_FALSE(is_tagged_entry("\x80\x04plain pickle"));
  const std::string raw = entry(1, u16(3) + "t:a" + u16(2) + "17", 1);
  CHECK(parse_tagged_entry(raw, &e));
  CHECK(e.value.empty());
  for (size_t cut = 0; cut < raw.size(); ++cut)
    CHECK_FALSE(parse_tagged_entry(raw.substr(0, cut), &e));
  CHECK_FALSE(parse_tagged_entry(entry(1, u16(3) + "t:a" + u16(2) + "17", 2),
                                 &e));  // count past the records
}
