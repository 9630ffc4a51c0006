// Blocking commands on clients that may not block (no sockets): an internal client (scripts,
// the dispatch fuzzer) gets the timeout's nil at once and never hangs the caller; timeouts are
// parsed as redis-server 7.0 parses them.
#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "l2/blocking.h"
#include "l2/client.h"
#include "l2/server.h"
#include "tests/l2/direct_client.h"

using namespace tiercache::l2;

using Fixture = tiercache::l2::testing::DirectClient;

TEST_CASE("an internal client never blocks: nil at once, nothing registered") {
  Fixture f;
  CHECK(f.run({"BLPOP", "l", "0"}) == "*-1\r\n");
  CHECK(f.run({"BRPOP", "a", "b", "0"}) == "*-1\r\n");
  CHECK(f.run({"BLMPOP", "0", "1", "l", "LEFT"}) == "*-1\r\n");
  CHECK(f.run({"BZPOPMIN", "z", "0"}) == "*-1\r\n");
  CHECK(f.run({"BZMPOP", "0", "1", "z", "MAX", "COUNT", "2"}) == "*-1\r\n");
  CHECK(f.run({"BLMOVE", "l", "d", "LEFT", "RIGHT", "0"}) == "$-1\r\n");
  CHECK(f.run({"BRPOPLPUSH", "l", "d", "0"}) == "$-1\r\n");
  CHECK(f.server.blocking().blocked_clients() == 0);
  CHECK(f.run({"CLIENT", "UNBLOCK", "1000"}) == ":0\r\n");
  // With data they pop as the non-blocking forms do.
  CHECK(f.run({"RPUSH", "l", "a", "b"}) == ":2\r\n");
  CHECK(f.run({"BLPOP", "l", "0"}) == "*2\r\n$1\r\nl\r\n$1\r\na\r\n");
  CHECK(f.run({"BLMOVE", "l", "d", "LEFT", "RIGHT", "1"}) == "$1\r\nb\r\n");
  CHECK(f.run({"ZADD", "z", "2", "m"}) == ":1\r\n");
  CHECK(f.run({"BZPOPMAX", "z", "0"}) == "*3\r\n$1\r\nz\r\n$1\r\nm\r\n$1\r\n2\r\n");
}

TEST_CASE("timeouts parse as Redis's getTimeoutFromObjectOrReply") {
  const int64_t now = 1'000'000;
  CHECK(parse_timeout("0", now).deadline_ms == 0);
  CHECK(parse_timeout("-0", now).error.empty());
  CHECK(parse_timeout("1.5", now).deadline_ms == now + 1500);
  CHECK(parse_timeout("0.0001", now).deadline_ms == now + 1);  // ceil to whole ms
  CHECK(parse_timeout("0x10", now).deadline_ms == now + 16000);  // strtold reads hex
  CHECK(parse_timeout("-1", now).error == "ERR timeout is negative");
  CHECK(parse_timeout("inf", now).error == "ERR timeout is negative");
  CHECK(parse_timeout("1e300", now).error == "ERR timeout is negative");
  CHECK(parse_timeout("nan", now).error == "ERR timeout is not a float or out of range");
  CHECK(parse_timeout("1 ", now).error == "ERR timeout is not a float or out of range");
  CHECK(parse_timeout("", now).error == "ERR timeout is not a float or out of range");
}
