// Hash slots, CLUSTER SLOTS and MOVED/ASK parsing (sidecar/cluster/). The slot vectors and the
// CLUSTER SLOTS reply were taken from redis-server 7.0.15 (CLUSTER KEYSLOT on a cluster-enabled
// node; CLUSTER SLOTS of a 4-master cluster made by redis-cli --cluster create).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "shared/resp/reply_parser.h"
#include "sidecar/cluster/slot.h"
#include "sidecar/cluster/topology.h"

using namespace tiercache;
using namespace tiercache::sidecar::cluster;

TEST_CASE("key_slot agrees with redis-server's CLUSTER KEYSLOT") {
  struct Case {
    const char* key;
    uint16_t slot;
  };
  const Case cases[] = {
      {"", 0},          {"foo", 12182},          {"bar", 5061},
      {"123456789", 12739}, {"{user1000}.following", 3443}, {"{user1000}.followers", 3443},
      {"foo{}{bar}", 8363}, {"foo{{bar}}zap", 4015}, {"foo{bar}{zap}", 5061},
      {"{}foo", 9500},    {"a{b", 13340},          {"}{x}", 16287},
      {"{{x}}", 11068},   {"\xe2\x82\xacuro", 997}, {"key:1000", 15018},
      {"tiercache:hb:a", 14333},
  };
  for (const Case& c : cases) {
    CAPTURE(c.key);
    CHECK(key_slot(c.key) == c.slot);
  }
  CHECK(crc16("123456789") == 0x31C3);  // the XMODEM check value
  CHECK(hashed_part("foo{bar}{zap}") == "bar");
  CHECK(hashed_part("foo{}{bar}") == "foo{}{bar}");
}

namespace {

std::vector<resp::ReplyToken> tokens_of(std::string_view raw) {
  std::vector<resp::ReplyToken> t;
  size_t consumed = 0;
  REQUIRE(resp::parse_reply(raw, &t, &consumed) == resp::ReplyStatus::kOk);
  REQUIRE(consumed == raw.size());
  return t;
}

const char kFourMasters[] =
    "*4\r\n"
    "*3\r\n:0\r\n:4095\r\n*4\r\n$9\r\n127.0.0.1\r\n:7311\r\n$40\r\n"
    "645b7e819ee2e97b5d7d1ee3bb187b92c5e47d62\r\n*0\r\n"
    "*3\r\n:4096\r\n:8191\r\n*4\r\n$9\r\n127.0.0.1\r\n:7312\r\n$40\r\n"
    "06221eae6c8e9d1cc117905fbbe73c8142096392\r\n*0\r\n"
    "*3\r\n:8192\r\n:12287\r\n*4\r\n$9\r\n127.0.0.1\r\n:7313\r\n$40\r\n"
    "d90c5abcb72974a9e51401df96b7f8a224f584b6\r\n*0\r\n"
    "*3\r\n:12288\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:7314\r\n$40\r\n"
    "df68aeea9bc191193042e299421faa377b6446ec\r\n*0\r\n";

}  // namespace

TEST_CASE("CLUSTER SLOTS of a real cluster: every slot to its master") {
  Topology topo;
  REQUIRE(parse_cluster_slots(tokens_of(kFourMasters), "10.0.0.1", &topo) == "");
  REQUIRE(topo.masters().size() == 4);
  CHECK(topo.covers_all_slots());
  CHECK(topo.masters()[2].port == 7313);
  CHECK(topo.masters()[2].id == "d90c5abcb72974a9e51401df96b7f8a224f584b6");
  CHECK(topo.master_of(key_slot("foo")) == 2);  // redis-server answered MOVED 12182 ...:7313
  CHECK(topo.master_of(key_slot("bar")) == 1);  // MOVED 5061 ...:7312
  CHECK(topo.slots_of(0) == 4096);
}

TEST_CASE("CLUSTER SLOTS: replicas, an empty host, several ranges of one master, gaps") {
  const char raw[] =
      "*2\r\n"
      "*4\r\n:0\r\n:99\r\n*2\r\n$0\r\n\r\n:7000\r\n*3\r\n$8\r\n10.0.0.9\r\n:7003\r\n$1\r\nx\r\n"
      "*3\r\n:200\r\n:299\r\n*2\r\n$0\r\n\r\n:7000\r\n";
  Topology topo;
  REQUIRE(parse_cluster_slots(tokens_of(raw), "10.0.0.1", &topo) == "");
  REQUIRE(topo.masters().size() == 1);
  CHECK(topo.masters()[0].host == "10.0.0.1");
  CHECK(topo.ranges()[0].replicas.size() == 1);
  CHECK(topo.ranges()[0].replicas[0].host == "10.0.0.9");
  CHECK(topo.master_of(50) == 0);
  CHECK(topo.master_of(150) == -1);
  CHECK(topo.master_of(250) == 0);
  CHECK(topo.slots_of(0) == 200);
  CHECK_FALSE(topo.covers_all_slots());
}

TEST_CASE("CLUSTER SLOTS: malformed replies are errors, never a topology") {
  const char* bad[] = {
      "+OK\r\n",
      "*1\r\n*2\r\n:0\r\n:5\r\n",                                   // no master
      "*1\r\n*3\r\n:5\r\n:4\r\n*2\r\n$1\r\na\r\n:1\r\n",               // first > last
      "*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\na\r\n:1\r\n",           // past the last slot
      "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\na\r\n:0\r\n",               // port 0
      "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\n?\r\n:1\r\n",               // unknown endpoint
      "*1\r\n*3\r\n:0\r\n:1\r\n*1\r\n$1\r\na\r\n",                     // node without port
      "*2\r\n*3\r\n:0\r\n:9\r\n*2\r\n$1\r\na\r\n:1\r\n*3\r\n:5\r\n:6\r\n*2\r\n$1\r\nb\r\n:1\r\n",
  };
  for (const char* raw : bad) {
    CAPTURE(raw);
    Topology topo;
    CHECK(parse_cluster_slots(tokens_of(raw), "h", &topo) != "");
  }
}

TEST_CASE("MOVED and ASK redirections") {
  Redirect r;
  REQUIRE(parse_redirect("MOVED 12182 127.0.0.1:7313", &r));
  CHECK(r.kind == Redirect::Kind::kMoved);
  CHECK(r.slot == 12182);
  CHECK(r.host == "127.0.0.1");
  CHECK(r.port == 7313);
  REQUIRE(parse_redirect("ASK 3 ::1:6380", &r));
  CHECK(r.kind == Redirect::Kind::kAsk);
  CHECK(r.host == "::1");
  CHECK(r.port == 6380);
  REQUIRE(parse_redirect("MOVED 1 :6380", &r));
  CHECK(r.host.empty());
  for (const char* bad : {"MOVED", "MOVED 16384 a:1", "MOVED x a:1", "MOVED 1 a", "MOVED 1 a:0",
                          "MOVED 1 a:70000", "ERR MOVED 1 a:1", "ASK 1 a:1x", "MOVED 1 a b:1"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_redirect(bad, &r));
  }
}
