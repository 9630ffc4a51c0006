// L1 negative entries (set_absent: a key known not to exist) and the fail-safe stale window
// (set_stale_window) as readers in reader mode see them.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "l1/store.h"
#include "tests/l1/test_util.h"

namespace tiercache::l1 {
namespace {

using testing::make_options;
using testing::SegmentGuard;
using testing::unique_name;

std::unique_ptr<Store> open_or_fail(const Options& o) {
  std::string error;
  auto s = Store::open(o, &error);
  REQUIRE_MESSAGE(s != nullptr, error);
  return s;
}

GetResult look(Store& s, const std::string& key, std::string* v = nullptr) {
  std::string scratch = "left over";
  GetResult r = s.get(0, key, v != nullptr ? v : &scratch, nullptr);
  if (r == GetResult::kAbsent) CHECK((v != nullptr ? *v : scratch).empty());
  return r;
}

TEST_CASE("a negative entry answers kAbsent until a set, del, flush or its TTL ends it") {
  SegmentGuard g{unique_name("neg")};
  Options o = make_options(g.name, 1 << 20);
  o.clock_ms = testing::fake_clock;
  o.max_ttl_ms = 60000;
  auto s = open_or_fail(o);
  CHECK(look(*s, "k") == GetResult::kMiss);
  REQUIRE(s->set_absent(0, "k", 0));  // 0: the cap
  CHECK(look(*s, "k") == GetResult::kAbsent);
  std::string other;
  CHECK(s->get(1, "k", &other, nullptr) == GetResult::kMiss);  // per db
  // A value replaces it, and a negative entry replaces a value.
  REQUIRE(s->set(0, "k", "v", 0));
  std::string v;
  CHECK(look(*s, "k", &v) == GetResult::kHit);
  CHECK(v == "v");
  REQUIRE(s->set_absent(0, "k", 0));
  CHECK(look(*s, "k") == GetResult::kAbsent);
  CHECK(s->stats().items == 1);
  // Cost: header and key only.
  CHECK(s->stats().bytes_used == record_bytes(1, 0));
  CHECK(s->del(0, "k"));
  CHECK(look(*s, "k") == GetResult::kMiss);
  REQUIRE(s->set_absent(0, "a", 0));
  REQUIRE(s->set_absent(0, "b", 0));
  REQUIRE(s->flush_db(0));
  CHECK(look(*s, "a") == GetResult::kMiss);
  REQUIRE(s->set_absent(0, "b", 0));
  REQUIRE(s->flush_all());
  CHECK(look(*s, "b") == GetResult::kMiss);
  // Capped by the TTL cap like any entry.
  REQUIRE(s->set_absent(0, "t", 0));
  testing::g_fake_now += 59999;
  CHECK(look(*s, "t") == GetResult::kAbsent);
  testing::g_fake_now += 2;
  CHECK(look(*s, "t") == GetResult::kMiss);
  REQUIRE(s->set_absent(0, "u", 100));
  testing::g_fake_now += 101;
  CHECK(look(*s, "u") == GetResult::kMiss);
  // Hits, in the owner's counts.
  const Stats st = s->stats();
  CHECK(st.hits == 4);
}

TEST_CASE("scan lists negative entries (pattern invalidation must find them)") {
  SegmentGuard g{unique_name("negscan")};
  auto s = open_or_fail(make_options(g.name, 1 << 20));
  REQUIRE(s->set(0, "v1", "x", 0));
  REQUIRE(s->set_absent(0, "n1", 0));
  std::vector<ScanEntry> out;
  uint64_t cursor = 0;
  do cursor = s->scan(cursor, 64, &out);
  while (cursor != 0);
  std::vector<std::string> keys;
  for (auto& e : out) keys.push_back(e.key);
  std::sort(keys.begin(), keys.end());
  CHECK(keys == std::vector<std::string>{"n1", "v1"});
}

TEST_CASE("readers see negative entries and count them; the stale window rules fail-safe") {
  SegmentGuard g{unique_name("negread")};
  Options o = testing::fake_clock_options(g.name, 1 << 20);
  Options ro = testing::reader_options(o, 1000);
  auto w = open_or_fail(o);
  auto r = open_or_fail(ro);
  REQUIRE(w->set(0, "k", "v", 0));
  REQUIRE(w->set_absent(0, "gone", 0));
  CHECK_FALSE(r->set_absent(0, "x", 0));  // readers never write entries
  w->mark_current(testing::fake_clock());
  CHECK(w->vouched_ms() == testing::fake_clock());
  CHECK(look(*r, "gone") == GetResult::kAbsent);
  CHECK(look(*r, "k") == GetResult::kHit);
  Stats st = w->stats();
  CHECK(st.reader_hits == 2);
  CHECK(st.reader_negative_hits == 1);
  CHECK(st.reader_stale_hits == 0);

  // Fail-safe with a 5 s window: served past the reader's own 1 s bound, counted as stale.
  w->set_stale_window(5000);
  testing::g_fake_now += 3000;
  CHECK(r->serving());
  CHECK(look(*r, "k") == GetResult::kHit);
  CHECK(look(*r, "gone") == GetResult::kAbsent);
  st = w->stats();
  CHECK(st.reader_stale_hits == 2);
  CHECK(st.reader_negative_hits == 2);
  testing::g_fake_now += 2001;  // 5001 ms since the vouch: past the window, nothing
  CHECK_FALSE(r->serving());
  CHECK(look(*r, "k") == GetResult::kMiss);
  // A window shorter than the reader's bound is the rule too (the owner's own answers stop).
  w->mark_current(testing::fake_clock());
  w->set_stale_window(200);
  testing::g_fake_now += 500;
  CHECK(look(*r, "k") == GetResult::kMiss);
  // Window closed: back to the reader's own bound.
  w->set_stale_window(0);
  CHECK(look(*r, "k") == GetResult::kHit);
  testing::g_fake_now += 600;
  CHECK(look(*r, "k") == GetResult::kMiss);
  // A clean close clears the window with the vouch.
  w->mark_current(testing::fake_clock());
  w->set_stale_window(5000);
  w->close_clean();
  auto w2 = open_or_fail(o);
  w2->mark_current(testing::fake_clock());
  testing::g_fake_now += 2000;
  CHECK(look(*r, "k") == GetResult::kMiss);  // 2 s > 1 s: the window did not survive
}

}  // namespace
}  // namespace tiercache::l1
