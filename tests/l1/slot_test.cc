// L1 per-hash-slot generations (Options::hash_slot_generations, Store::flush_slot): a slot's
// entries of db 0 vanish in O(1) and nothing else does (hash tags included), the counters stay
// exact through flushes, overwrites, deletes and evictions, readers attached in reader mode see
// the same, and the region is part of the layout (other setting or version: never trusted).
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>
#include <string>

#include "l1/hash_slot.h"
#include "l1/store.h"
#include "tests/l1/test_util.h"

namespace tiercache::l1 {
namespace {

using testing::make_options;
using testing::SegmentGuard;
using testing::unique_name;

std::unique_ptr<Store> open_slots(const std::string& name, uint64_t bytes, bool on = true) {
  Options o = make_options(name, bytes);
  o.max_ttl_ms = 0;
  o.hash_slot_generations = on;
  std::string error;
  auto s = Store::open(o, &error);
  REQUIRE_MESSAGE(s != nullptr, error);
  return s;
}

bool has(Store& s, uint32_t db, const std::string& key) {
  std::string v;
  return s.get(db, key, &v, nullptr) == GetResult::kHit;
}

TEST_CASE("key_slot: Redis Cluster's slots, hash tags included") {
  CHECK(key_slot("foo") == 12182);  // redis-server: CLUSTER KEYSLOT foo
  CHECK(key_slot("bar") == 5061);
  CHECK(key_slot("{user1000}.following") == key_slot("user1000"));
  CHECK(key_slot("foo{}{bar}") == crc16("foo{}{bar}") % kHashSlots);
  CHECK(kHashSlots == static_cast<int>(kHashSlotCount));
}

TEST_CASE("flush_slot hides exactly that slot's db-0 entries, hash tags too") {
  SegmentGuard g{unique_name("slotflush")};
  auto s = open_slots(g.name, 8 << 20);
  REQUIRE(s->hash_slot_generations());
  const uint16_t foo = key_slot("foo");
  REQUIRE(key_slot("bar") != foo);
  REQUIRE(s->set(0, "foo", "1", 0));
  REQUIRE(s->set(0, "x{foo}y", "2", 0));  // same slot through its tag
  REQUIRE(s->set(0, "bar", "3", 0));
  REQUIRE(s->set_absent(0, "{foo}gone", 0));
  REQUIRE(s->set(1, "foo", "4", 0));  // db 1: not a cluster db, no slot generations
  const Stats before = s->stats();
  CHECK(before.items == 5);

  CHECK(s->flush_slot(foo));
  CHECK_FALSE(has(*s, 0, "foo"));
  CHECK_FALSE(has(*s, 0, "x{foo}y"));
  std::string v;
  CHECK(s->get(0, "{foo}gone", &v, nullptr) == GetResult::kMiss);
  CHECK(has(*s, 0, "bar"));
  CHECK(has(*s, 1, "foo"));
  const Stats after = s->stats();
  CHECK(after.items == 2);
  CHECK(after.bytes_used == record_bytes(3, 1) + record_bytes(3, 1));
  CHECK(after.slot_flushes == 1);
  CHECK(after.flushes == before.flushes);

  // The slot fills again, and an overwrite or delete of a flushed entry counts nothing twice.
  REQUIRE(s->set(0, "foo", "5", 0));
  CHECK(s->get(0, "foo", &v, nullptr) == GetResult::kHit);
  CHECK(v == "5");
  CHECK(s->set(0, "x{foo}y", "6", 0));
  CHECK_FALSE(s->del(0, "{foo}gone"));  // flushed: not live
  CHECK(s->stats().items == 4);
  CHECK(s->del(0, "foo"));
  CHECK(s->stats().items == 3);

  // Scans skip flushed slots too.
  REQUIRE(s->flush_slot(key_slot("bar")));
  std::set<std::string> seen;
  std::vector<ScanEntry> out;
  uint64_t cursor = 0;
  do {
    out.clear();
    cursor = s->scan(cursor, 64, &out);
    for (auto& e : out) seen.insert(std::to_string(e.db) + ":" + e.key);
  } while (cursor != 0);
  CHECK(seen == std::set<std::string>{"0:x{foo}y", "1:foo"});
  CHECK(s->stats().items == 2);
}

TEST_CASE("flush_slots: one call for many slots; flush_all and flush_db(0) reset the counts") {
  SegmentGuard g{unique_name("slotmany")};
  auto s = open_slots(g.name, 8 << 20);
  std::vector<uint16_t> low;  // slots 0..5460, as a master of a three-node cluster owns them
  for (uint16_t i = 0; i <= 5460; ++i) low.push_back(i);
  int in_low = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string k = "key:" + std::to_string(i);
    REQUIRE(s->set(0, k, "v", 0));
    in_low += key_slot(k) <= 5460;
  }
  CHECK(s->flush_slots(low));
  CHECK(s->stats().items == static_cast<uint64_t>(3000 - in_low));
  CHECK(s->stats().slot_flushes == low.size());
  for (int i = 0; i < 3000; ++i) {
    const std::string k = "key:" + std::to_string(i);
    CHECK(has(*s, 0, k) == (key_slot(k) > 5460));
  }
  // A whole flush starts a new epoch: the slots' old counts must not be taken off again.
  REQUIRE(s->flush_all());
  REQUIRE(s->set(0, "foo", "v", 0));
  REQUIRE(s->flush_db(0));
  REQUIRE(s->set(0, "bar", "v", 0));
  CHECK(s->stats().items == 1);
  CHECK(s->flush_slots(low));  // holds slot 5061 ("bar")
  CHECK(s->stats().items == 0);
  CHECK(s->stats().bytes_used == 0);
}

TEST_CASE("counters stay exact under churn with slot flushes (evictions included)") {
  SegmentGuard g{unique_name("slotchurn")};
  auto s = open_slots(g.name, 2 << 20);
  std::mt19937_64 rng(14);
  std::vector<std::string> keys;
  for (int i = 0; i < 4000; ++i)
    keys.push_back("k{" + std::to_string(i % 300) + "}" + std::to_string(i));
  for (int round = 0; round < 40000; ++round) {
    const std::string& k = keys[rng() % keys.size()];
    const int op = static_cast<int>(rng() % 1000);
    if (op < 750) {
      s->set(0, k, std::string(rng() % 2000, 'v'), 0);
    } else if (op < 950) {
      s->del(0, k);
    } else if (op < 998) {
      s->flush_slot(key_slot(k));
    } else {
      s->flush_db(0);
    }
  }
  // Every live entry, counted the slow way, agrees with the counters.
  uint64_t items = 0, bytes = 0;
  std::string v;
  for (const auto& k : keys)
    if (s->get(0, k, &v, nullptr) == GetResult::kHit)
      ++items, bytes += record_bytes(k.size(), v.size());
  const Stats st = s->stats();
  CHECK(st.evictions > 0);
  CHECK(st.items == items);
  CHECK(st.bytes_used == bytes);
}

TEST_CASE("a reader-mode store follows the segment's slot generations") {
  SegmentGuard g{unique_name("slotreader")};
  auto owner = open_slots(g.name, 4 << 20);
  REQUIRE(owner->set(0, "foo", "1", 0));
  REQUIRE(owner->set(0, "bar", "2", 0));
  Options ro = make_options(g.name, 4 << 20);  // no hash_slot_generations: the header says
  ro.mode = OpenMode::kReader;
  std::string error;
  auto reader = Store::open(ro, &error);
  REQUIRE_MESSAGE(reader != nullptr, error);
  CHECK(reader->hash_slot_generations());
  CHECK(has(*reader, 0, "foo"));
  CHECK_FALSE(reader->flush_slot(key_slot("bar")));  // readers never mutate
  REQUIRE(owner->flush_slot(key_slot("foo")));
  CHECK_FALSE(has(*reader, 0, "foo"));
  CHECK(has(*reader, 0, "bar"));
  CHECK(reader->stats().items == 1);
}

TEST_CASE("without the option: no region, flush_slot refused, nothing changes") {
  SegmentGuard g{unique_name("slotoff")};
  auto s = open_slots(g.name, 4 << 20, false);
  CHECK_FALSE(s->hash_slot_generations());
  CHECK(s->layout().hash_slot_count == 0);
  REQUIRE(s->set(0, "foo", "1", 0));
  CHECK_FALSE(s->flush_slot(key_slot("foo")));
  CHECK(has(*s, 0, "foo"));
}

TEST_CASE("the region is part of the layout: other setting or version is never trusted") {
  SegmentGuard g{unique_name("slotlayout")};
  auto off = open_slots(g.name, 4 << 20, false);
  REQUIRE(off->set(0, "foo", "1", 0));
  auto on = open_slots(g.name, 4 << 20, true);  // same size, other setting: replaced
  CHECK(off->retired());
  CHECK_FALSE(has(*on, 0, "foo"));
  CHECK(on->layout().hash_slot_count == kHashSlotCount);
  CHECK(on->layout().bucket_offset >= on->layout().hash_slot_offset + sizeof(HashSlotRegion));
  // (A segment of another layout version: attach_test.cc, for owners and readers.)
}

TEST_CASE("too small a segment for the region is refused") {
  Options o = make_options(unique_name("slotsmall"), kMinSegmentBytes);
  o.hash_slot_generations = true;
  std::string error;
  CHECK(Store::open(o, &error) == nullptr);
  CHECK(error == "memory_bytes out of range");
}

}  // namespace
}  // namespace tiercache::l1
