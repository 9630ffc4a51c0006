// Unit tests of what a HiredisLink relays (sidecar/link/hiredis_link.h): replies read by a real
// hiredis reader with the link's reply functions and written back by write_reply are the bytes
// the L2 sent, null arrays included (hiredis alone reads `*-1` and `$-1` alike).
#include <doctest/doctest.h>
#include <hiredis/hiredis.h>

#include <string>

#include "sidecar/link/hiredis_link.h"

namespace tiercache::sidecar {
namespace {

// Reads one reply from `wire` as a HiredisLink does and writes it back.
std::string relayed(const std::string& wire) {
  redisReader* reader = make_reply_reader();
  REQUIRE(redisReaderFeed(reader, wire.data(), wire.size()) == REDIS_OK);
  void* reply = nullptr;
  REQUIRE(redisReaderGetReply(reader, &reply) == REDIS_OK);
  REQUIRE(reply != nullptr);
  std::string out;
  write_reply(out, static_cast<redisReply*>(reply));
  CHECK(resp_size(static_cast<redisReply*>(reply)) == out.size());
  freeReplyObject(reply);
  redisReaderFree(reader);
  return out;
}

TEST_CASE("a null array and a null bulk are relayed as the L2 sent them") {
  CHECK(relayed("*-1\r\n") == "*-1\r\n");  // BLPOP's timeout, an EXEC a WATCH aborted
  CHECK(relayed("$-1\r\n") == "$-1\r\n");  // GET of a missing key
  // GEOPOS of a missing member among others; nested nulls of both kinds.
  const std::string nested = "*4\r\n*-1\r\n$-1\r\n*2\r\n$1\r\na\r\n*-1\r\n:7\r\n";
  CHECK(relayed(nested) == nested);
}

TEST_CASE("the other reply types are relayed unchanged") {
  for (const std::string wire :
       {"+OK\r\n", "-ERR no\r\n", ":-42\r\n", "$0\r\n\r\n", "$4\r\na\r\nb\r\n", "*0\r\n",
        "*2\r\n$1\r\nk\r\n$1\r\nv\r\n"})
    CHECK(relayed(wire) == wire);
}

}  // namespace
}  // namespace tiercache::sidecar
