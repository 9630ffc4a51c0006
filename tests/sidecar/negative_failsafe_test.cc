// Unit tests of negative entries (keys the L2 said are absent, cached in L1) and of fail-safe
// (--stale-if-error-ms) over the fake L2 link (harness.h): GET, MGET and EXISTS fills, the
// fill guard racing an invalidation with a negative fill, --l1-negative off; stale answers
// inside the window only, misses and writes refused, the window closed (and L1 flushed) when
// the L2 answers again or the bus is back.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "l1/store.h"
#include "sidecar/clock.h"
#include "sidecar/sidecar.h"
#include "tests/sidecar/fake_l2.h"
#include "tests/sidecar/harness.h"

namespace tiercache::sidecar {
namespace {

using testing::Harness;
using testing::Reply;
using V = std::vector<std::string>;

const char* const kNil = "$-1\r\n";
const std::string kL2Error = "-ERR tiercache: L2 unavailable (fake L2 down)\r\n";

// Answers a GET flight: GET's reply, then PTTL's.
void answer_flight(Harness& h, std::unique_ptr<Reply> get, long long pttl) {
  h.l2->answer(get);
  h.l2->answer(Reply::integer(pttl));
}

l1::GetResult in_l1(Harness& h, const std::string& key) {
  std::string v;
  return h.sidecar->l1().get(0, key, &v, nullptr);
}

TEST_CASE("a GET of an absent key leaves a negative entry: the next GET is nil from L1") {
  Harness h;
  auto* a = h.client();
  h.request(a, {"GET", "absent"});
  CHECK(h.sent() == V{"GET absent", "PTTL absent"});
  answer_flight(h, Reply::nil(), -2);
  CHECK(Harness::replies(a) == kNil);
  CHECK(h.sidecar->stats().negative_fills == 1);
  CHECK(in_l1(h, "absent") == l1::GetResult::kAbsent);
  h.request(a, {"GET", "absent"});
  CHECK(Harness::replies(a) == kNil);
  CHECK(h.l2->pending.empty());
  CHECK(h.sidecar->stats().l1_hits == 1);
  CHECK(h.sidecar->stats().l1_negative_hits == 1);
  h.request(a, {"STRLEN", "absent"});  // Redis answers 0 for an absent key
  CHECK(Harness::replies(a) == ":0\r\n");
  CHECK(h.l2->pending.empty());
}

TEST_CASE("a GET nil whose PTTL finds the key again (written meanwhile) caches nothing") {
  Harness h;
  auto* a = h.client();
  h.request(a, {"GET", "k"});
  answer_flight(h, Reply::nil(), -1);
  CHECK(Harness::replies(a) == kNil);
  CHECK(h.sidecar->stats().negative_fills == 0);
  CHECK(in_l1(h, "k") == l1::GetResult::kMiss);
}

TEST_CASE("the fill guard drops a negative fill whose key was invalidated while fetched") {
  Harness h;
  auto* a = h.client();
  h.request(a, {"GET", "k"});
  h.invalidate_from_another_host("k");  // another host wrote k after our GET was sent
  answer_flight(h, Reply::nil(), -2);
  CHECK(Harness::replies(a) == kNil);
  CHECK(h.sidecar->stats().negative_fills == 0);
  CHECK(h.sidecar->stats().fills_discarded == 1);
  CHECK(in_l1(h, "k") == l1::GetResult::kMiss);
  h.request(a, {"GET", "k"});
  CHECK(h.sent() == V{"GET k", "PTTL k"});  // asked again
}

TEST_CASE("an invalidation or a local write drops a negative entry like any entry") {
  Harness h;
  auto* a = h.client();
  REQUIRE(h.sidecar->l1().set_absent(0, "k", 60000));
  h.invalidate_from_another_host("k");
  CHECK(in_l1(h, "k") == l1::GetResult::kMiss);
  REQUIRE(h.sidecar->l1().set_absent(0, "k", 60000));
  h.request(a, {"SET", "k", "v"});  // dropped before the write is sent
  CHECK(in_l1(h, "k") == l1::GetResult::kMiss);
}

TEST_CASE("MGET answers known-absent keys from L1 and caches nil keys whose PTTL is -2") {
  Harness h;
  auto* a = h.client();
  REQUIRE(h.sidecar->l1().set(0, "hit", "H", 60000));
  REQUIRE(h.sidecar->l1().set_absent(0, "neg", 60000));
  h.request(a, {"MGET", "hit", "neg", "gone", "hash"});
  CHECK(h.sent() == V{"MGET gone hash", "PTTL gone", "PTTL hash"});
  std::vector<std::unique_ptr<Reply>> values;
  values.push_back(Reply::nil());
  values.push_back(Reply::nil());  // MGET's nil for another type...
  h.l2->answer(Reply::array(std::move(values)));
  h.l2->answer(Reply::integer(-2));
  h.l2->answer(Reply::integer(-1));  // ...exists: not a negative entry
  CHECK(Harness::replies(a) == "*4\r\n$1\r\nH\r\n$-1\r\n$-1\r\n$-1\r\n");
  CHECK(in_l1(h, "gone") == l1::GetResult::kAbsent);
  CHECK(in_l1(h, "hash") == l1::GetResult::kMiss);
  h.request(a, {"MGET", "neg", "hit", "gone"});
  CHECK(Harness::replies(a) == "*3\r\n$-1\r\n$1\r\nH\r\n$-1\r\n");
  CHECK(h.l2->pending.empty());
  CHECK(h.sidecar->stats().l1_negative_hits == 3);
}

TEST_CASE("EXISTS counts L1's values and negative entries and asks only about the rest") {
  Harness h;
  auto* a = h.client();
  REQUIRE(h.sidecar->l1().set(0, "v", "x", 60000));
  REQUIRE(h.sidecar->l1().set_absent(0, "n", 60000));
  h.request(a, {"EXISTS", "v", "n", "v"});
  CHECK(Harness::replies(a) == ":2\r\n");
  CHECK(h.l2->pending.empty());
  h.request(a, {"EXISTS", "v", "n", "u1", "u2"});
  CHECK(h.sent() == V{"EXISTS u1", "EXISTS u2"});
  h.l2->answer(Reply::integer(0));
  CHECK(Harness::replies(a).empty());  // waits for the last reply
  h.l2->answer(Reply::integer(1));
  CHECK(Harness::replies(a) == ":2\r\n");
  CHECK(in_l1(h, "u1") == l1::GetResult::kAbsent);
  CHECK(in_l1(h, "u2") == l1::GetResult::kMiss);  // exists (no value known): not cached
  h.request(a, {"EXISTS", "u1", "n"});
  CHECK(Harness::replies(a) == ":0\r\n");
  CHECK(h.l2->pending.empty());
  CHECK(h.sidecar->stats().l1_negative_hits == 4);
  // An L2 failure answers the L2 error and caches nothing.
  h.request(a, {"EXISTS", "u3"});
  h.l2->fail_all();
  CHECK(Harness::replies(a) == kL2Error);
  CHECK(in_l1(h, "u3") == l1::GetResult::kMiss);
}

TEST_CASE("--l1-negative off: absent keys are not cached") {
  Config cfg;
  cfg.l1_negative = false;
  Harness h(cfg);
  auto* a = h.client();
  h.request(a, {"GET", "absent"});
  answer_flight(h, Reply::nil(), -2);
  REQUIRE(h.sidecar->l1().set(0, "v", "x", 60000));
  h.request(a, {"EXISTS", "e", "v"});
  CHECK(h.sent() == V{"EXISTS e v"});  // as it is: nothing to cache
  h.l2->answer(Reply::integer(0));
  CHECK(Harness::replies(a) == std::string(kNil) + ":0\r\n");
  CHECK(in_l1(h, "absent") == l1::GetResult::kMiss);
  CHECK(in_l1(h, "e") == l1::GetResult::kMiss);
  CHECK(h.sidecar->stats().negative_fills == 0);
}

// ---- fail-safe --------------------------------------------------------------------------------

// The L2 goes away: requests fail, the bus reports itself unhealthy.
void lose_l2(Harness& h) {
  h.l2->drop();
  h.bus->is_healthy = false;
  h.sidecar->on_bus_unhealthy("subscription connection lost");
}

uint64_t now_ms() { return steady_us() / 1000; }

// A sidecar with --stale-if-error-ms window_ms whose L1 holds k = v, last verified
// verified_ago_ms ago, that has just lost its L2; and a client.
struct LostL2 {
  explicit LostL2(int64_t window_ms, uint64_t verified_ago_ms = 0) : h(config(window_ms)) {
    a = h.client();
    REQUIRE(h.sidecar->l1().set(0, "k", "v", 60000));
    h.sidecar->on_bus_current(now_ms() - verified_ago_ms);
    lose_l2(h);
  }
  static Config config(int64_t window_ms) {
    Config cfg;
    cfg.stale_if_error_ms = window_ms;
    return cfg;
  }
  Harness h;
  net::Connection* a = nullptr;
};

TEST_CASE("fail-safe off (default): losing the L2 flushes L1 and every read gets the L2 error") {
  LostL2 t(0);
  Harness& h = t.h;
  auto* a = t.a;
  CHECK_FALSE(h.sidecar->in_fail_safe());
  h.request(a, {"GET", "k"});
  CHECK(Harness::replies(a) == kL2Error);
  CHECK(in_l1(h, "k") == l1::GetResult::kMiss);
}

TEST_CASE("fail-safe: L1 hits answered inside the window; misses and writes get the L2 error") {
  LostL2 t(60000);
  Harness& h = t.h;
  auto* a = t.a;
  REQUIRE(h.sidecar->l1().set_absent(0, "n", 60000));
  CHECK(h.sidecar->in_fail_safe());
  CHECK(h.sidecar->stats().fail_safe_entered == 1);
  h.request(a, {"GET", "k"});
  h.request(a, {"GET", "n"});
  h.request(a, {"MGET", "k", "n"});
  h.request(a, {"EXISTS", "k", "n"});
  CHECK(Harness::replies(a) == "$1\r\nv\r\n$-1\r\n*2\r\n$1\r\nv\r\n$-1\r\n:1\r\n");
  CHECK(h.sidecar->stats().stale_answers == 6);
  h.request(a, {"GET", "miss"});
  CHECK(Harness::replies(a) == kL2Error);
  h.request(a, {"MGET", "k", "miss"});  // one miss: the whole MGET fails
  CHECK(Harness::replies(a) == kL2Error);
  h.request(a, {"SET", "k", "new"});
  h.sidecar->end_of_tick();
  CHECK(Harness::replies(a) == kL2Error);
  h.request(a, {"GET", "k"});  // the refused write dropped the local copy anyway
  CHECK(Harness::replies(a) == kL2Error);
  // No fill lands while in fail-safe, and a second loss report changes nothing.
  h.sidecar->on_bus_unhealthy("still down");
  CHECK(h.sidecar->stats().fail_safe_entered == 1);
  h.request(a, {"GET", "n"});
  CHECK(Harness::replies(a) == kNil);
}

TEST_CASE("fail-safe: past the window errors only, and the cron flushes L1") {
  LostL2 t(500, 501);  // last verified just over the window ago
  Harness& h = t.h;
  auto* a = t.a;
  CHECK(h.sidecar->in_fail_safe());
  h.request(a, {"GET", "k"});
  CHECK(Harness::replies(a) == kL2Error);
  CHECK(h.sidecar->stats().stale_answers == 0);
  h.sidecar->fail_safe_cron();
  CHECK(in_l1(h, "k") == l1::GetResult::kMiss);
}

TEST_CASE("fail-safe: the bus back flushes L1 before it serves (no resurrection)") {
  LostL2 t(60000);
  Harness& h = t.h;
  auto* a = t.a;
  h.request(a, {"GET", "k"});
  CHECK(Harness::replies(a) == "$1\r\nv\r\n");
  // The L2 restarted empty: the bus resubscribes (unhealthy, then healthy), the link is up.
  h.l2->up = true;
  h.sidecar->on_bus_unhealthy("resubscribed: dropping what may have been missed");
  h.bus->is_healthy = true;
  h.sidecar->on_bus_healthy();
  CHECK_FALSE(h.sidecar->in_fail_safe());
  CHECK(in_l1(h, "k") == l1::GetResult::kMiss);
  h.request(a, {"GET", "k"});
  V sent = h.sent();
  REQUIRE(sent.size() >= 2);
  CHECK(sent[sent.size() - 2] == "GET k");
}

TEST_CASE("fail-safe: the data link answering again closes the window and flushes L1") {
  LostL2 t(60000);
  Harness& h = t.h;
  auto* a = t.a;
  h.l2->up = true;  // the data link reconnected; the bus has not
  h.sidecar->fail_safe_cron();
  CHECK(h.sent() == V{"PING"});
  h.request(a, {"GET", "k"});  // until the probe answers, still a stale answer
  CHECK(Harness::replies(a) == "$1\r\nv\r\n");
  h.l2->answer(Reply::status("PONG"));
  CHECK(in_l1(h, "k") == l1::GetResult::kMiss);
  h.request(a, {"GET", "k"});  // asks the L2 now
  CHECK(h.sent() == V{"GET k", "PTTL k"});
  answer_flight(h, Reply::nil(), -2);
  CHECK(Harness::replies(a) == kNil);
  CHECK(in_l1(h, "k") == l1::GetResult::kMiss);  // no fill while the bus is down
}

TEST_CASE("fail-safe: the data connection held when the bus was lost proves nothing") {
  // The cut reached the bus's connection first; the data link's still answers, for now.
  Harness h(LostL2::config(60000));
  auto* a = h.client();
  REQUIRE(h.sidecar->l1().set(0, "k", "v", 60000));
  h.sidecar->on_bus_current(now_ms());
  h.bus->is_healthy = false;
  h.sidecar->on_bus_unhealthy("subscription connection lost");
  REQUIRE(h.sidecar->in_fail_safe());
  h.sidecar->fail_safe_cron();
  CHECK(h.sent().empty());  // no PING on that connection
  h.request(a, {"GET", "k"});
  CHECK(Harness::replies(a) == "$1\r\nv\r\n");
  CHECK(h.sidecar->stats().stale_answers == 1);
  // The cut reaches it, and the link connects again: that connection's answer counts.
  h.l2->drop();
  h.sidecar->fail_safe_cron();
  CHECK(h.sent().empty());
  h.l2->up = true;
  h.sidecar->fail_safe_cron();
  CHECK(h.sent() == V{"PING"});
  h.l2->answer(Reply::status("PONG"));
  CHECK(in_l1(h, "k") == l1::GetResult::kMiss);
}

TEST_CASE("fail-safe: a probe's answer counts for the fail-safe it was sent in only") {
  LostL2 t(60000);
  Harness& h = t.h;
  auto* a = t.a;
  h.l2->up = true;
  h.sidecar->fail_safe_cron();
  REQUIRE(h.sent() == V{"PING"});
  // Before it is answered, the bus comes back and is lost again (a new fail-safe).
  h.bus->is_healthy = true;
  h.sidecar->on_bus_healthy();
  REQUIRE_FALSE(h.sidecar->in_fail_safe());
  REQUIRE(h.sidecar->l1().set(0, "k", "v2", 60000));
  h.sidecar->on_bus_current(now_ms());
  h.bus->is_healthy = false;
  h.sidecar->on_bus_unhealthy("subscription connection lost");
  REQUIRE(h.sidecar->in_fail_safe());
  h.l2->answer(Reply::status("PONG"));  // the first fail-safe's probe
  CHECK(in_l1(h, "k") == l1::GetResult::kHit);
  h.request(a, {"GET", "k"});
  CHECK(Harness::replies(a) == "$2\r\nv2\r\n");
}

}  // namespace
}  // namespace tiercache::sidecar
