// Invalidation message codec: round trips, versioning and hostile input.
#include "sidecar/invalidation/message.h"

#include <doctest/doctest.h>

#include <string>

using namespace tiercache::sidecar::invalidation;

TEST_CASE("round trip of a batched message") {
  Message m;
  m.origin = 0xdeadbeefcafef00dull;
  m.seq = 42;
  m.sent_at_us = 1700000000000000ull;
  m.groups.push_back(Group{0, false, {":1:views.decorators.cache", std::string("b\0in\r\n", 6)}});
  m.groups.push_back(Group{3, true, {}});
  m.groups.push_back(Group{kAllDbs, true, {}});
  std::string wire = encode(m);
  Message out;
  std::string err;
  REQUIRE(decode(wire, &out, &err));
  CHECK(out.origin == m.origin);
  CHECK(out.seq == 42);
  CHECK(out.sent_at_us == m.sent_at_us);
  REQUIRE(out.groups.size() == 3);
  CHECK(out.groups[0].keys == m.groups[0].keys);
  CHECK(out.groups[1].flush);
  CHECK(out.groups[1].db == 3);
  CHECK(out.groups[2].db == kAllDbs);
}

TEST_CASE("a heartbeat has no groups and stays small") {
  Message m;
  m.origin = 1;
  m.seq = 1;
  std::string wire = encode(m);
  CHECK(wire.size() < 16);
  Message out;
  std::string err;
  CHECK(decode(wire, &out, &err));
  CHECK(out.groups.empty());
}

TEST_CASE("bad input is refused, never thrown") {
  Message out;
  std::string err;
  CHECK_FALSE(decode("", &out, &err));
  CHECK_FALSE(decode("hello", &out, &err));
  CHECK_FALSE(decode(std::string("\x95\x02\x01\x01\x01\x90", 6), &out, &err));  // version 2
  CHECK(err == "unsupported version");
  std::string good = encode(Message{1, 2, 3, {}});
  CHECK_FALSE(decode(good + "x", &out, &err));  // trailing bytes
  for (size_t n = 0; n < good.size(); ++n) CHECK_FALSE(decode(good.substr(0, n), &out, &err));
  // An array header claiming 4 billion groups must not allocate them.
  CHECK_FALSE(decode(std::string("\x95\x01\x01\x01\x01\xdd\xff\xff\xff\xff", 10), &out, &err));
  DecodeLimits tight;
  tight.max_keys = 1;
  Message two{1, 1, 1, {Group{0, false, {"a", "b"}}}};
  CHECK_FALSE(decode(encode(two), &out, &err, tight));
  CHECK(err == "too many keys");
}
