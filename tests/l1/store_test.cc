// L1 store unit tests: operations against a std::unordered_map model, TTL, flush, refusals,
// scan, and bounded bytes under churn.
#include "l1/store.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

#include "tests/l1/test_util.h"

namespace tiercache::l1 {
namespace {

using testing::fake_clock;
using testing::g_fake_now;
using testing::make_options;
using testing::SegmentGuard;
using testing::unique_name;

struct ModelKey {
  uint32_t db;
  std::string key;
  bool operator==(const ModelKey&) const = default;
};
struct ModelKeyHash {
  size_t operator()(const ModelKey& k) const {
    return std::hash<std::string>()(k.key) ^ (size_t{k.db} * 0x9E3779B97F4A7C15ull);
  }
};
using Model = std::unordered_map<ModelKey, std::string, ModelKeyHash>;

std::string random_bytes(std::mt19937_64& rng, size_t n) {
  // Binary-safe, includes NULs. Eight bytes per draw: one per draw was most of this file's
  // time under ASan at -O0 (the eviction test alone took 26 s there).
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t r = rng();
    std::memcpy(s.data() + i, &r, std::min<size_t>(8, n - i));
  }
  return s;
}

std::string key_for(uint64_t i) {
  std::string k("k");  // (not "k" + to_string: GCC 12 -Wrestrict false positive)
  k += std::to_string(i);
  if (i % 7 == 0) k.push_back('\0');  // binary keys
  return k;
}

std::unique_ptr<Store> open_store(const std::string& name, uint64_t bytes, uint64_t max_ttl = 0,
                                  uint64_t (*clock)() = nullptr) {
  Options o = make_options(name, bytes);
  o.max_ttl_ms = max_ttl;
  o.clock_ms = clock;
  std::string error;
  auto s = Store::open(o, &error);
  REQUIRE_MESSAGE(s != nullptr, error);
  return s;
}

TEST_CASE("basic set/get/del, binary-safe keys and values, exact stats") {
  SegmentGuard g{unique_name("basic")};
  auto s = open_store(g.name, 1 << 20);
  std::string v;
  CHECK(s->get(0, "a", &v, nullptr) == GetResult::kMiss);
  const std::string key("a\0b", 3), value("x\0y\0z", 5);
  CHECK(s->set(0, key, value, 0));
  CHECK(s->get(0, key, &v, nullptr) == GetResult::kHit);
  CHECK(v == value);
  CHECK(s->get(1, key, &v, nullptr) == GetResult::kMiss);  // keyed by (db, key)
  CHECK(s->get(0, std::string_view("a\0c", 3), &v, nullptr) == GetResult::kMiss);
  CHECK(s->set(0, key, "", 0));  // empty value
  CHECK(s->get(0, key, &v, nullptr) == GetResult::kHit);
  CHECK(v.empty());
  Stats st = s->stats();
  CHECK(st.items == 1);
  CHECK(st.bytes_used == record_bytes(3, 0));
  CHECK(st.hits == 2);
  CHECK(st.misses == 3);
  CHECK(s->del(0, key));
  CHECK_FALSE(s->del(0, key));
  CHECK(s->get(0, key, &v, nullptr) == GetResult::kMiss);
  st = s->stats();
  CHECK(st.items == 0);
  CHECK(st.bytes_used == 0);
  CHECK(st.deletes == 1);
  CHECK(st.sets == 2);
}

TEST_CASE("refusals: too large, bad db, long key") {
  SegmentGuard g{unique_name("refuse")};
  Options o = make_options(g.name, 32 << 20);
  o.max_item_size = 1000;
  std::string error;
  auto s = Store::open(o, &error);
  REQUIRE(s);
  CHECK(s->set(0, "k", std::string(1000, 'x'), 0));
  CHECK_FALSE(s->set(0, "k", std::string(1001, 'x'), 0));
  CHECK_FALSE(s->set(kMaxDbs, "k", "v", 0));
  CHECK_FALSE(s->set(0, std::string(kMaxKeyBytes + 1, 'k'), "v", 0));
  std::string v;
  CHECK(s->get(0, "k", &v, nullptr) == GetResult::kHit);
  CHECK(v.size() == 1000);  // the refused set left the old value alone
  // A small segment caps records at half its small ring even if max_item_size is larger.
  SegmentGuard g2{unique_name("refuse2")};
  auto small = open_store(g2.name, 256 << 10);
  CHECK(small->layout().max_record_bytes < 20000);
  CHECK_FALSE(small->set(0, "k", std::string(small->layout().max_record_bytes, 'x'), 0));
  CHECK(small->set(0, "k", std::string(small->layout().max_record_bytes - 32, 'x'), 0));
}

// Long random sequences with no eviction possible: the store must equal the model exactly.
TEST_CASE("random operations match an unordered_map model (no eviction)") {
  for (uint64_t seed : {1u, 2u, 3u}) {
    SegmentGuard g{unique_name("model")};
    auto s = open_store(g.name, 16 << 20);
    std::mt19937_64 rng(seed);
    Model model;
    std::string v;
    for (int op = 0; op < 60000; ++op) {
      const uint32_t db = rng() % 3;
      const std::string key = key_for(rng() % 1500);
      const int kind = rng() % 100;
      if (kind < 45) {
        std::string value = random_bytes(rng, rng() % 600);
        REQUIRE(s->set(db, key, value, 0));
        model[{db, key}] = std::move(value);
      } else if (kind < 85) {
        auto it = model.find({db, key});
        const GetResult r = s->get(db, key, &v, nullptr);
        REQUIRE((r == GetResult::kHit) == (it != model.end()));
        if (it != model.end()) REQUIRE(v == it->second);
      } else if (kind < 98) {
        REQUIRE(s->del(db, key) == (model.erase({db, key}) == 1));
      } else if (kind < 99) {
        REQUIRE(s->flush_db(db));
        std::erase_if(model, [&](const auto& kv) { return kv.first.db == db; });
      } else if (rng() % 4 == 0) {
        REQUIRE(s->flush_all());
        model.clear();
      }
    }
    const Stats st = s->stats();
    CHECK(st.evictions == 0);
    CHECK(st.items == model.size());
    uint64_t bytes = 0;
    for (const auto& [k, val] : model) bytes += record_bytes(k.key.size(), val.size());
    CHECK(st.bytes_used == bytes);
    for (const auto& [k, val] : model) {
      REQUIRE(s->get(k.db, k.key, &v, nullptr) == GetResult::kHit);
      REQUIRE(v == val);
    }
  }
}

// With eviction the store holds a subset of the model: every hit must be the latest value,
// deleted or flushed keys never come back, and stats/scan agree with what get() sees.
TEST_CASE("random operations under eviction: hits are always the latest value") {
  for (uint64_t seed : {7u, 8u}) {
    SegmentGuard g{unique_name("evict")};
    auto s = open_store(g.name, 256 << 10);
    const uint64_t capacity = s->stats().capacity_bytes;
    std::mt19937_64 rng(seed);
    Model model;
    std::string v;
    uint64_t hits = 0;
    for (int op = 0; op < 100000; ++op) {
      const uint32_t db = rng() % 2;
      // Skewed keys so that some stay hot and are kept by the policy.
      const uint64_t r = rng() % 4000;
      const std::string key = key_for(r % 3 == 0 ? r % 100 : r);
      const int kind = rng() % 100;
      if (kind < 40) {
        std::string value = random_bytes(rng, 1 + rng() % 400);
        REQUIRE(s->set(db, key, value, 0));
        model[{db, key}] = std::move(value);
      } else if (kind < 90) {
        auto it = model.find({db, key});
        if (s->get(db, key, &v, nullptr) == GetResult::kHit) {
          REQUIRE(it != model.end());
          REQUIRE(v == it->second);
          ++hits;
        }
      } else if (kind < 98 || rng() % 64 != 0) {
        const bool removed = s->del(db, key);
        if (removed) REQUIRE(model.count({db, key}) == 1);
        model.erase({db, key});
      } else {
        REQUIRE(s->flush_db(db));
        std::erase_if(model, [&](const auto& kv) { return kv.first.db == db; });
      }
      const Stats st = s->stats();
      REQUIRE(st.arena_bytes_held <= capacity);
      REQUIRE(st.bytes_used <= st.arena_bytes_held);
    }
    CHECK(hits > 1000);
    const Stats st = s->stats();
    CHECK(st.evictions > 0);
    // items == number of model keys present; scan reports exactly those.
    std::set<std::pair<uint32_t, std::string>> present, scanned;
    uint64_t bytes = 0;
    for (const auto& [k, val] : model) {
      if (s->get(k.db, k.key, &v, nullptr) == GetResult::kHit) {
        REQUIRE(v == val);
        present.insert({k.db, k.key});
        bytes += record_bytes(k.key.size(), val.size());
      }
    }
    CHECK(st.items == present.size());
    CHECK(st.bytes_used == bytes);
    std::vector<ScanEntry> out;
    uint64_t cursor = 0;
    do {
      cursor = s->scan(cursor, 3, &out);
    } while (cursor != 0);
    for (auto& e : out) scanned.insert({e.db, e.key});
    CHECK(scanned.size() == out.size());  // no duplicates without concurrent writes
    CHECK(scanned == present);
  }
}

TEST_CASE("TTL: expiry, remaining TTL, cap, reclamation counts") {
  SegmentGuard g{unique_name("ttl")};
  auto s = open_store(g.name, 1 << 20, /*max_ttl=*/5000, &fake_clock);
  std::string v;
  uint64_t left = 0;
  REQUIRE(s->set(0, "a", "1", 100));
  REQUIRE(s->set(0, "b", "2", 0));      // no TTL -> capped at max_ttl
  REQUIRE(s->set(0, "c", "3", 99999));  // capped at max_ttl
  CHECK(s->get(0, "a", &v, &left) == GetResult::kHit);
  CHECK(left == 100);
  g_fake_now += 99;
  CHECK(s->get(0, "a", &v, &left) == GetResult::kHit);
  CHECK(left == 1);
  g_fake_now += 1;
  CHECK(s->get(0, "a", &v, &left) == GetResult::kMiss);
  CHECK(s->get(0, "b", &v, &left) == GetResult::kHit);
  CHECK(left == 4900);
  CHECK(s->get(0, "c", &v, &left) == GetResult::kHit);
  CHECK(left == 4900);
  CHECK_FALSE(s->del(0, "a"));  // expired entries are not "live"
  CHECK(s->stats().expirations == 0);
  g_fake_now += 4900;
  CHECK(s->get(0, "b", &v, &left) == GetResult::kMiss);
  CHECK(s->stats().items == 2);  // expired entries count until reclaimed
  CHECK(s->reclaim_expired(1u << 30) == 2);
  const Stats st = s->stats();
  CHECK(st.items == 0);
  CHECK(st.bytes_used == 0);
  CHECK(st.expirations == 2);
  // A backwards clock jump cannot extend an entry beyond the cap.
  REQUIRE(s->set(0, "d", "4", 1000));
  g_fake_now -= 100000;
  CHECK(s->get(0, "d", &v, &left) == GetResult::kMiss);
  g_fake_now += 100000;
  CHECK(s->get(0, "d", &v, &left) == GetResult::kHit);
}

TEST_CASE("TTL: expired entries are reclaimed by the ring under churn") {
  SegmentGuard g{unique_name("ttl-churn")};
  auto s = open_store(g.name, 256 << 10, 1000, &fake_clock);
  for (int i = 0; i < 200; ++i) REQUIRE(s->set(0, key_for(i), std::string(100, 'x'), 10));
  g_fake_now += 11;
  for (int i = 0; i < 5000; ++i) REQUIRE(s->set(0, key_for(1000 + i), std::string(100, 'y'), 0));
  const Stats st = s->stats();
  CHECK(st.expirations == 200);  // every expired entry reclaimed exactly once, none evicted
  std::string v;
  for (int i = 0; i < 200; ++i) CHECK(s->get(0, key_for(i), &v, nullptr) == GetResult::kMiss);
}

TEST_CASE("flush_all and flush_db are generation bumps") {
  SegmentGuard g{unique_name("flush")};
  auto s = open_store(g.name, 1 << 20);
  for (uint32_t db = 0; db < 3; ++db) {
    for (int i = 0; i < 50; ++i) REQUIRE(s->set(db, key_for(i), "v", 0));
  }
  CHECK(s->stats().items == 150);
  REQUIRE(s->flush_db(1));
  std::string v;
  CHECK(s->get(1, key_for(3), &v, nullptr) == GetResult::kMiss);
  CHECK(s->get(0, key_for(3), &v, nullptr) == GetResult::kHit);
  CHECK(s->stats().items == 100);
  REQUIRE(s->set(1, key_for(3), "new", 0));
  CHECK(s->get(1, key_for(3), &v, nullptr) == GetResult::kHit);
  CHECK(v == "new");
  CHECK(s->stats().items == 101);
  REQUIRE(s->flush_all());
  for (uint32_t db = 0; db < 3; ++db) {
    CHECK(s->get(db, key_for(3), &v, nullptr) == GetResult::kMiss);
  }
  CHECK(s->stats().items == 0);
  CHECK(s->stats().bytes_used == 0);
  CHECK(s->stats().flushes == 2);
  // Stale entries are reused/reclaimed later without being counted as expirations.
  CHECK(s->reclaim_expired(1u << 30) == 150);
  CHECK(s->stats().expirations == 0);
  std::vector<ScanEntry> out;
  CHECK(s->scan(0, 0, &out) == 0);
  CHECK(out.empty());
}

TEST_CASE("bounded bytes under churn: never above the segment, file never grows") {
  SegmentGuard g{unique_name("churn")};
  const uint64_t bytes = 512 << 10;
  auto s = open_store(g.name, bytes);
  const uint64_t capacity = s->stats().capacity_bytes;
  const uint64_t max_value = s->layout().max_record_bytes - 64;
  std::mt19937_64 rng(42);
  std::string v;
  for (int i = 0; i < 100000; ++i) {
    const std::string key = key_for(rng() % 5000);
    // Mostly small values, sometimes near the largest accepted record.
    const size_t n = rng() % 50 == 0 ? rng() % max_value : rng() % 300;
    REQUIRE(s->set(rng() % 4, key, std::string(n, 'v'), 0));
    if (i % 3 == 0) s->get(rng() % 4, key, &v, nullptr);
    const Stats st = s->stats();
    REQUIRE(st.arena_bytes_held <= capacity);
    REQUIRE(st.bytes_used <= capacity);
  }
  struct stat sb;
  REQUIRE(stat(("/dev/shm/tiercache-" + g.name).c_str(), &sb) == 0);
  CHECK(static_cast<uint64_t>(sb.st_size) == bytes);
  CHECK(s->stats().evictions > 1000);
}

TEST_CASE("hot keys survive a scan of one-hit wonders (S3-FIFO)") {
  SegmentGuard g{unique_name("s3fifo")};
  auto s = open_store(g.name, 512 << 10);
  std::string v;
  for (int i = 0; i < 100; ++i) REQUIRE(s->set(0, key_for(i), std::string(100, 'h'), 0));
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 100; ++i) s->get(0, key_for(i), &v, nullptr);
  }
  // Ten times the capacity of cold, never-read keys.
  for (int i = 0; i < 40000; ++i) REQUIRE(s->set(0, key_for(100000 + i), std::string(100, 'c'), 0));
  int kept = 0;
  for (int i = 0; i < 100; ++i) kept += s->get(0, key_for(i), &v, nullptr) == GetResult::kHit;
  const Stats st = s->stats();
  INFO("items=", st.items, " evictions=", st.evictions, " index_evictions=", st.index_evictions);
  CHECK(kept >= 95);
}

}  // namespace
}  // namespace tiercache::l1
