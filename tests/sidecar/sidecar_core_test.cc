// Unit tests of the sidecar core over the fake L2 link (fake_l2.h): single flight, the fill
// guard racing an invalidation, write batching, EXEC's invalidation, MGET split over hits and
// misses, an L2 failure mid-batch. Clients are socket-less connections; the loop never runs
// (end_of_tick() stands for the end of a loop tick).
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "l1/store.h"
#include "sidecar/invalidation/message.h"
#include "sidecar/sidecar.h"
#include "tests/sidecar/fake_l2.h"
#include "tests/sidecar/harness.h"

namespace tiercache::sidecar {
namespace {

using testing::Harness;
using testing::Reply;

using V = std::vector<std::string>;

TEST_CASE("a GET miss fetches once for every waiting client (single flight), then L1 serves") {
  Harness h;
  auto* a = h.client();
  auto* b = h.client();
  h.request(a, {"GET", "k"});
  h.request(b, {"GET", "k"});
  CHECK(h.sent() == V{"GET k", "PTTL k"});
  CHECK(h.sidecar->stats().coalesced_misses == 1);
  h.l2->answer(Reply::str("v"));
  h.l2->answer(Reply::integer(-1));
  CHECK(Harness::replies(a) == "$1\r\nv\r\n");
  CHECK(Harness::replies(b) == "$1\r\nv\r\n");
  h.request(a, {"GET", "k"});
  CHECK(Harness::replies(a) == "$1\r\nv\r\n");
  CHECK(h.l2->pending.empty());
  CHECK(h.sidecar->stats().l1_hits == 1);
}

TEST_CASE("the fill guard drops a value whose key was invalidated while it was fetched") {
  Harness h;
  auto* a = h.client();
  h.request(a, {"GET", "k"});
  h.invalidate_from_another_host("k");  // another host wrote k meanwhile
  auto* b = h.client();
  h.request(b, {"GET", "k"});  // not joinable any more: a fetch of its own
  CHECK(h.sent() == V{"GET k", "PTTL k", "GET k", "PTTL k"});
  h.l2->answer(Reply::str("old"));
  h.l2->answer(Reply::integer(-1));
  CHECK(Harness::replies(a) == "$3\r\nold\r\n");
  CHECK(h.sidecar->stats().fills_discarded == 1);
  h.l2->answer(Reply::str("new"));
  h.l2->answer(Reply::integer(-1));
  CHECK(Harness::replies(b) == "$3\r\nnew\r\n");
  CHECK(h.sidecar->stats().fills == 1);
  h.request(a, {"GET", "k"});
  CHECK(Harness::replies(a) == "$3\r\nnew\r\n");  // the fresh fetch was cached
}

TEST_CASE("the fill guard drops the value of a lone fetch whose key was invalidated") {
  Harness h;
  auto* a = h.client();
  h.request(a, {"GET", "k"});
  h.invalidate_from_another_host("k");
  h.l2->answer(Reply::str("old"));
  h.l2->answer(Reply::integer(-1));
  CHECK(Harness::replies(a) == "$3\r\nold\r\n");
  CHECK(h.sidecar->stats().fills_discarded == 1);
  CHECK(h.sidecar->stats().fills == 0);
  h.request(a, {"GET", "k"});
  CHECK(h.sent() == V{"GET k", "PTTL k"});  // not cached: asked again
}

TEST_CASE("writes of one tick go out as one batch committed with their invalidation") {
  Harness h;
  auto* a = h.client();
  auto* b = h.client();
  h.request(a, {"SET", "x", "1"});
  h.request(b, {"SET", "y", "2"});
  CHECK(h.l2->pending.empty());  // batched until the end of the tick
  h.sidecar->end_of_tick();
  V sent = h.sent();
  REQUIRE(sent.size() == 5);
  CHECK(sent[0] == "MULTI");
  CHECK(sent[1] == "SET x 1");
  CHECK(sent[2] == "SET y 2");
  CHECK(sent[3] == "PUBLISH fake message");
  CHECK(sent[4] == "EXEC");
  CHECK(h.bus->expected.size() == 1);
  for (int i = 0; i < 4; ++i) h.l2->answer(Reply::status(i == 0 ? "OK" : "QUEUED"));
  std::vector<std::unique_ptr<Reply>> results;
  results.push_back(Reply::status("OK"));
  results.push_back(Reply::status("OK"));
  results.push_back(Reply::integer(1));
  h.l2->answer(Reply::array(std::move(results)));
  CHECK(Harness::replies(a) == "+OK\r\n");
  CHECK(Harness::replies(b) == "+OK\r\n");
  CHECK(h.sidecar->stats().write_batches == 1);
  CHECK(h.bus->forgotten.empty());
}

TEST_CASE("EXEC drops its written keys from L1 and publishes their invalidation") {
  Harness h;
  auto* a = h.client();
  REQUIRE(h.sidecar->l1().set(0, "k", "cached", 60000));
  h.request(a, {"MULTI"});
  h.request(a, {"SET", "k", "v"});
  h.request(a, {"GET", "other"});
  CHECK(Harness::replies(a) == "+OK\r\n+QUEUED\r\n+QUEUED\r\n");
  h.request(a, {"EXEC"});
  std::string value;
  CHECK(h.sidecar->l1().get(0, "k", &value, nullptr) != l1::GetResult::kHit);
  V sent = h.sent();
  REQUIRE(sent.size() == 5);
  CHECK(sent[0] == "MULTI");
  CHECK(sent[1] == "SET k v");
  CHECK(sent[2] == "GET other");
  CHECK(sent[4] == "EXEC");
  // The published message names k in db 0.
  REQUIRE(h.bus->published.size() == 1);
  REQUIRE(h.bus->published[0].size() == 1);
  CHECK(h.bus->published[0][0].db == 0);
  CHECK(h.bus->published[0][0].keys == V{"k"});
  for (int i = 0; i < 4; ++i) h.l2->answer(Reply::status(i == 0 ? "OK" : "QUEUED"));
  std::vector<std::unique_ptr<Reply>> results;
  results.push_back(Reply::status("OK"));
  results.push_back(Reply::nil());
  results.push_back(Reply::integer(1));  // PUBLISH's
  h.l2->answer(Reply::array(std::move(results)));
  CHECK(Harness::replies(a) == "*2\r\n+OK\r\n$-1\r\n");
}

TEST_CASE("MGET answers hits from L1 and fetches only the misses") {
  Harness h;
  auto* a = h.client();
  REQUIRE(h.sidecar->l1().set(0, "hit", "H", 60000));
  h.request(a, {"MGET", "hit", "miss", "gone"});
  CHECK(h.sent() == V{"MGET miss gone", "PTTL miss", "PTTL gone"});
  std::vector<std::unique_ptr<Reply>> values;
  values.push_back(Reply::str("M"));
  values.push_back(Reply::nil());
  h.l2->answer(Reply::array(std::move(values)));
  h.l2->answer(Reply::integer(5000));
  CHECK(Harness::replies(a).empty());  // waits for the last PTTL
  h.l2->answer(Reply::integer(-2));
  CHECK(Harness::replies(a) == "*3\r\n$1\r\nH\r\n$1\r\nM\r\n$-1\r\n");
  h.request(a, {"MGET", "miss", "hit"});
  CHECK(Harness::replies(a) == "*2\r\n$1\r\nM\r\n$1\r\nH\r\n");  // both from L1 now
  CHECK(h.l2->pending.empty());
}

TEST_CASE("an L2 failure in the middle of a batch answers every write with the L2 error") {
  Harness h;
  auto* a = h.client();
  auto* b = h.client();
  REQUIRE(h.sidecar->l1().set(0, "x", "cached", 60000));
  h.request(a, {"SET", "x", "1"});
  h.request(b, {"DEL", "y"});
  h.sidecar->end_of_tick();
  REQUIRE(h.l2->pending.size() == 5);
  h.l2->answer(Reply::status("OK"));  // MULTI
  h.l2->fail_all();                   // the connection drops
  const std::string err = "-ERR tiercache: L2 unavailable (fake L2 down)\r\n";
  CHECK(Harness::replies(a) == err);
  CHECK(Harness::replies(b) == err);
  CHECK(h.bus->forgotten == h.bus->expected);  // the message will not come back
  std::string value;
  CHECK(h.sidecar->l1().get(0, "x", &value, nullptr) != l1::GetResult::kHit);
  h.l2->up = false;  // and while it is down, writes fail at once
  h.request(a, {"SET", "x", "2"});
  h.sidecar->end_of_tick();
  CHECK(Harness::replies(a) == err);
}

TEST_CASE("STRLEN is answered from L1 on a hit and by the L2 otherwise") {
  Harness h;
  auto* a = h.client();
  REQUIRE(h.sidecar->l1().set(0, "k", "hello", 60000));
  h.request(a, {"STRLEN", "k"});
  CHECK(Harness::replies(a) == ":5\r\n");
  CHECK(h.l2->pending.empty());
  h.request(a, {"STRLEN", "absent"});
  CHECK(h.sent() == V{"STRLEN absent"});
  h.l2->answer(Reply::integer(0));
  CHECK(Harness::replies(a) == ":0\r\n");
}

// ---- the tracking source's events (keys without a db, flushes, prefixes) --------------------

TEST_CASE("tracking: a key the L2 reports (no db) is dropped from L1 in every db used") {
  Harness h;
  h.bus->publishes = false;
  auto* a = h.client();
  for (const char* db : {"0", "3"}) {
    h.request(a, {"SELECT", db});
    h.request(a, {"GET", "k"});
    while (!h.l2->pending.empty()) {
      const std::string cmd = h.l2->pending.front().command;
      if (cmd.rfind("SELECT", 0) == 0)
        h.l2->answer(Reply::status("OK"));
      else if (cmd.rfind("GET", 0) == 0)
        h.l2->answer(Reply::str(std::string("v") + db));
      else
        h.l2->answer(Reply::integer(-1));
    }
  }
  std::string value;
  REQUIRE(h.sidecar->l1().get(0, "k", &value, nullptr) == l1::GetResult::kHit);
  REQUIRE(h.sidecar->l1().get(3, "k", &value, nullptr) == l1::GetResult::kHit);
  std::string_view keys[] = {"k"};
  h.sidecar->on_keys_invalidated(keys);
  CHECK(h.sidecar->l1().get(0, "k", &value, nullptr) != l1::GetResult::kHit);
  CHECK(h.sidecar->l1().get(3, "k", &value, nullptr) != l1::GetResult::kHit);
  CHECK(h.sidecar->stats().invalidated_keys_received == 1);
}

TEST_CASE("tracking: the fill guard drops a fetch whose key the L2 reported meanwhile") {
  Harness h;
  h.bus->publishes = false;
  auto* a = h.client();
  h.request(a, {"SELECT", "5"});
  h.request(a, {"GET", "k"});
  std::string_view keys[] = {"k"};
  h.sidecar->on_keys_invalidated(keys);  // a client straight at the L2 wrote k meanwhile
  h.l2->answer(Reply::status("OK"));     // SELECT
  h.l2->answer(Reply::str("old"));
  h.l2->answer(Reply::integer(-1));
  CHECK(Harness::replies(a) == "+OK\r\n$3\r\nold\r\n");
  CHECK(h.sidecar->stats().fills_discarded == 1);
  std::string value;
  CHECK(h.sidecar->l1().get(5, "k", &value, nullptr) != l1::GetResult::kHit);
}

TEST_CASE("tracking: a flush reported by the L2 empties L1 and refuses fills in flight") {
  Harness h;
  h.bus->publishes = false;
  auto* a = h.client();
  REQUIRE(h.sidecar->l1().set(2, "x", "cached", 60000));
  h.request(a, {"GET", "k"});
  invalidation::Message all;
  all.groups.push_back(invalidation::Group{invalidation::kAllDbs, true, {}});
  h.sidecar->on_invalidation(all);
  h.l2->answer(Reply::str("old"));
  h.l2->answer(Reply::integer(-1));
  CHECK(h.sidecar->stats().fills_discarded == 1);
  std::string value;
  CHECK(h.sidecar->l1().get(2, "x", &value, nullptr) != l1::GetResult::kHit);
  CHECK(h.sidecar->l1().get(0, "k", &value, nullptr) != l1::GetResult::kHit);
}

TEST_CASE("tracking: writes commit without a PUBLISH (the L2 reports them)") {
  Harness h;
  h.bus->publishes = false;
  auto* a = h.client();
  h.request(a, {"SET", "x", "1"});
  h.sidecar->end_of_tick();
  CHECK(h.sent() == V{"MULTI", "SET x 1", "EXEC"});
  CHECK(h.bus->published.empty());
  h.l2->answer(Reply::status("OK"));
  h.l2->answer(Reply::status("QUEUED"));
  std::vector<std::unique_ptr<Reply>> results;
  results.push_back(Reply::status("OK"));
  h.l2->answer(Reply::array(std::move(results)));
  CHECK(Harness::replies(a) == "+OK\r\n");
  CHECK(h.sidecar->stats().invalidation_messages_sent == 0);
}

TEST_CASE("tracking: a key outside the tracked prefixes is answered but never cached") {
  Harness h;
  h.bus->publishes = false;
  h.bus->prefix = "app:";
  auto* a = h.client();
  for (const char* key : {"other", "app:1"}) {
    h.request(a, {"GET", key});
    h.l2->answer(Reply::str("v"));
    h.l2->answer(Reply::integer(-1));
    CHECK(Harness::replies(a) == "$1\r\nv\r\n");
  }
  CHECK(h.sidecar->stats().fills == 1);
  CHECK(h.sidecar->stats().fills_untracked == 1);
  h.request(a, {"GET", "app:1"});
  CHECK(Harness::replies(a) == "$1\r\nv\r\n");  // from L1
  h.request(a, {"GET", "other"});
  CHECK(h.sent() == V{"GET other", "PTTL other"});  // asked again: never cached
}

}  // namespace
}  // namespace tiercache::sidecar
