// Unit tests of clients pinned to an L2 link of their own (sidecar/pinned.cc) over fake links
// (fake_l2.h: the shared link and each client's FakeDedicatedLink): a blocking command goes
// over the client's link in its db and invalidates what it popped; the link is kept across
// calls and closed with the client; max-dedicated-links; a pinning command waits for the
// client's earlier replies; a WATCH pins reads, writes and EXEC to the link; a lost link that
// held a WATCH fails the client's commands until EXEC; an L2 that is down opens nothing.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "sidecar/sidecar.h"
#include "tests/sidecar/fake_l2.h"
#include "tests/sidecar/harness.h"

namespace tiercache::sidecar {
namespace {

using testing::Harness;
using testing::Reply;

using V = std::vector<std::string>;

const std::string kL2Error = "-ERR tiercache: L2 unavailable (fake L2 down)\r\n";

std::unique_ptr<Reply> popped(std::string key, std::string value) {
  std::vector<std::unique_ptr<Reply>> kv;
  kv.push_back(Reply::str(std::move(key)));
  kv.push_back(Reply::str(std::move(value)));
  return Reply::array(std::move(kv));
}

TEST_CASE("a blocking command goes over the client's own link, in its db, and invalidates its key") {
  Harness h;
  auto* a = h.client();
  h.request(a, {"SELECT", "3"});
  CHECK(Harness::replies(a) == "+OK\r\n");
  h.request(a, {"BLPOP", "q", "0"});
  REQUIRE(h.dedicated.size() == 1);
  auto& link = h.dedicated[0]->link;
  CHECK(h.dedicated[0]->started);
  CHECK(link.commands() == V{"SELECT 3", "BLPOP q 0"});
  CHECK(h.sent().empty());  // nothing on the shared link
  CHECK(Harness::replies(a).empty());  // blocked
  link.answer(Reply::status("OK"));
  link.answer(popped("q", "job"));
  CHECK(Harness::replies(a) == "*2\r\n$1\r\nq\r\n$3\r\njob\r\n");
  h.sidecar->end_of_tick();
  // The pop wrote q in db 3: every host drops it.
  REQUIRE(h.bus->published.size() == 1);
  REQUIRE(h.bus->published[0].size() == 1);
  CHECK(h.bus->published[0][0].db == 3);
  CHECK(h.bus->published[0][0].keys == V{"q"});
}

TEST_CASE("a blocking command that times out (nil) invalidates nothing") {
  Harness h;
  auto* a = h.client();
  h.request(a, {"BRPOP", "q", "0.1"});
  REQUIRE(h.dedicated.size() == 1);
  CHECK(h.dedicated[0]->link.commands() == V{"BRPOP q 0.1"});  // db 0: no SELECT
  h.dedicated[0]->link.answer(Reply::null_array());
  CHECK(Harness::replies(a) == "*-1\r\n");  // as Redis: a null array, not a null bulk
  h.sidecar->end_of_tick();
  CHECK(h.bus->published.empty());
  CHECK(h.sent().empty());
}

TEST_CASE("the link is kept across blocking calls and closed with the client") {
  Harness h;
  auto* a = h.client();
  for (int i = 0; i < 3; ++i) {
    h.request(a, {"BLPOP", "q", "1"});
    REQUIRE(h.dedicated.size() == 1);  // one connect (and AUTH) for the client, not per call
    h.dedicated[0]->link.answer(Reply::null_array());
  }
  CHECK(h.sidecar->stats().dedicated_links_opened == 1);
  h.request(a, {"BLPOP", "q", "0"});  // blocked when the client goes away
  h.close(a);
  CHECK(h.dedicated[0]->stops == 1);  // the L2 unblocks it
  CHECK(h.dedicated[0]->link.pending.empty());
  h.sidecar->end_of_tick();  // the link is freed: its record stays the test's
}

TEST_CASE("max-dedicated-links refuses one more, and a client that leaves frees its place") {
  Config cfg;
  cfg.max_dedicated_links = 1;
  Harness h(cfg);
  auto* a = h.client();
  auto* b = h.client();
  h.request(a, {"BLPOP", "q", "0"});
  h.request(b, {"BLPOP", "q", "0"});
  CHECK(Harness::replies(b) ==
        "-ERR max number of dedicated L2 connections reached (max-dedicated-links 1)\r\n");
  CHECK(h.dedicated.size() == 1);
  CHECK(h.sidecar->stats().dedicated_links_refused == 1);
  h.close(a);
  h.request(b, {"BLPOP", "q", "0"});
  CHECK(h.dedicated.size() == 2);
  CHECK(h.dedicated[1]->link.commands() == V{"BLPOP q 0"});
}

TEST_CASE("a blocking command waits for the client's replies pending on the shared link") {
  Harness h;
  auto* a = h.client();
  h.request(a, {"GET", "k"});  // a miss: in flight on the shared link
  h.request(a, {"BLPOP", "q", "0"});
  CHECK(h.dedicated.empty());  // held: it must not overtake the GET
  h.sidecar->end_of_tick();
  CHECK(h.dedicated.empty());
  h.l2->answer(Reply::str("v"));
  h.l2->answer(Reply::integer(-1));
  CHECK(Harness::replies(a) == "$1\r\nv\r\n");
  h.sidecar->end_of_tick();  // its turn has come
  REQUIRE(h.dedicated.size() == 1);
  CHECK(h.dedicated[0]->link.commands() == V{"BLPOP q 0"});
}

TEST_CASE("while a WATCH holds, reads, writes and EXEC go over the client's link, not L1") {
  Harness h;
  auto* a = h.client();
  REQUIRE(h.sidecar->l1().set(0, "k", "cached", 60000));
  h.request(a, {"WATCH", "k"});
  REQUIRE(h.dedicated.size() == 1);
  auto& link = h.dedicated[0]->link;
  link.answer(Reply::status("OK"));
  h.request(a, {"GET", "k"});  // not the L1 copy: the value the WATCH checks
  CHECK(link.commands() == V{"GET k"});
  link.answer(Reply::str("current"));
  CHECK(Harness::replies(a) == "+OK\r\n$7\r\ncurrent\r\n");
  h.request(a, {"MULTI"});
  h.request(a, {"SET", "k", "next"});
  h.request(a, {"EXEC"});
  CHECK(Harness::replies(a) == "+OK\r\n+QUEUED\r\n");
  h.sidecar->end_of_tick();
  CHECK(h.sent().empty());  // nothing on the shared link
  V sent = link.commands();
  REQUIRE(sent.size() >= 3);
  CHECK(sent.front() == "MULTI");
  CHECK(sent[1] == "SET k next");
  CHECK(sent.back() == "EXEC");
  std::string value;
  CHECK(h.sidecar->l1().get(0, "k", &value, nullptr) != l1::GetResult::kHit);
}

TEST_CASE("a lost link that held a WATCH fails the client's commands until EXEC ends it") {
  Harness h;
  auto* a = h.client();
  h.request(a, {"WATCH", "k"});
  REQUIRE(h.dedicated.size() == 1);
  h.dedicated[0]->link.answer(Reply::status("OK"));
  CHECK(Harness::replies(a) == "+OK\r\n");
  h.dedicated[0]->link.drop();  // the WATCH died with the connection
  h.request(a, {"GET", "k"});
  CHECK(Harness::replies(a) == kL2Error);
  h.request(a, {"WATCH", "other"});
  CHECK(Harness::replies(a) == kL2Error);
  CHECK(h.dedicated.size() == 1);  // no new link: it would not hold the first WATCH
  h.request(a, {"MULTI"});
  h.request(a, {"SET", "k", "v"});
  h.request(a, {"EXEC"});
  h.sidecar->end_of_tick();
  std::string r = Harness::replies(a);
  CHECK(r.rfind("+OK\r\n+QUEUED\r\n", 0) == 0);
  CHECK(r.substr(std::string("+OK\r\n+QUEUED\r\n").size()) == kL2Error);  // never commits
  CHECK(h.sent().empty());
  h.request(a, {"BLPOP", "q", "0"});  // unwatched now: a new link
  CHECK(h.dedicated.size() == 2);
}

TEST_CASE("with the L2 down a blocking command fails at once and opens nothing") {
  Harness h;
  auto* a = h.client();
  h.l2->up = false;
  h.request(a, {"BLPOP", "q", "0"});
  CHECK(Harness::replies(a) == kL2Error);
  CHECK(h.dedicated.empty());
  CHECK(h.sidecar->stats().dedicated_links_opened == 0);
}

}  // namespace
}  // namespace tiercache::sidecar
