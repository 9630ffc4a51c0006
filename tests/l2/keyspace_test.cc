// Keyspace: values, lazy and active expiry, memory accounting and eviction policies.
#include "l2/keyspace/keyspace.h"

#include <doctest/doctest.h>

#include <string>

using namespace tiercache::l2;

TEST_CASE("set, replace, append, remove") {
  Keyspace ks(16, 1);
  ks.set(0, "k", "v1", 0);
  CHECK(ks.lookup_read(0, "k", 1000)->value() == "v1");
  ks.set(0, "k", std::string(500, 'x'), 0);
  CHECK(ks.lookup_read(0, "k", 1000)->value().size() == 500);
  Entry* e = ks.lookup_write(0, "k", 1000);
  for (int i = 0; i < 100; ++i) e = ks.append(0, e, "abc");
  CHECK(ks.lookup_read(0, "k", 1000)->value().size() == 800);
  CHECK(ks.lookup_read(1, "k", 1000) == nullptr);  // dbs are separate
  CHECK(ks.remove(0, "k"));
  CHECK_FALSE(ks.remove(0, "k"));
  CHECK(ks.db_size(0) == 0);
  CHECK(ks.stats().hits == 3);
  CHECK(ks.stats().misses == 1);
}

TEST_CASE("binary keys and values") {
  Keyspace ks(1, 2);
  std::string key("a\0b\r\n", 5), value("\0\0\xff", 3);
  ks.set(0, key, value, 0);
  CHECK(ks.lookup_read(0, key, 0)->value() == value);
  CHECK(ks.lookup_read(0, std::string_view("a", 1), 0) == nullptr);
}

TEST_CASE("lazy expiry never returns an expired key") {
  Keyspace ks(1, 3);
  ks.set(0, "t", "v", 2000);
  CHECK(ks.db_expires(0) == 1);
  CHECK(ks.lookup_read(0, "t", 1999) != nullptr);
  CHECK(ks.lookup_read(0, "t", 2000) == nullptr);
  CHECK(ks.db_size(0) == 0);
  CHECK(ks.db_expires(0) == 0);
  CHECK(ks.stats().expired_keys == 1);
}

TEST_CASE("active expiry reclaims keys nobody touches") {
  Keyspace ks(2, 4);
  for (int i = 0; i < 50000; ++i) {
    ks.set(i % 2, "vol:" + std::to_string(i), "v", 1000);
    ks.set(i % 2, "keep:" + std::to_string(i), "v", 0);
  }
  size_t before = ks.used_bytes();
  size_t removed = 0;
  for (int i = 0; i < 1000 && ks.db_expires(0) + ks.db_expires(1) > 0; ++i)
    removed += ks.active_expire_cycle(5000, 2000);
  CHECK(removed == 50000);
  CHECK(ks.db_size(0) + ks.db_size(1) == 50000);
  CHECK(ks.used_bytes() < before);
}

TEST_CASE("memory accounting returns to zero") {
  Keyspace ks(1, 5);
  CHECK(ks.used_bytes() == 0);
  for (int i = 0; i < 10000; ++i) ks.set(0, "k" + std::to_string(i), std::string(100, 'v'), 0);
  size_t per_key = ks.used_bytes() / 10000;
  CHECK(per_key >= 100);
  CHECK(per_key < 300);
  ks.flush_all();
  CHECK(ks.used_bytes() == 0);
}

TEST_CASE("eviction: allkeys-lru keeps recently used keys, noeviction refuses") {
  Keyspace ks(1, 6);
  for (int i = 0; i < 2000; ++i) ks.set(0, "k" + std::to_string(i), std::string(200, 'v'), 0);
  // Touch the first 200 keys later than the rest.
  ks.set_lru_clock(1000);
  for (int i = 0; i < 200; ++i) ks.lookup_read(0, "k" + std::to_string(i), 0);
  ks.set_lru_clock(1001);
  size_t limit = ks.used_bytes() / 2;
  CHECK_FALSE(ks.evict_to(limit, 0, EvictionPolicy::kNoEviction, 5));
  CHECK(ks.evict_to(limit, 0, EvictionPolicy::kAllKeysLru, 10));
  CHECK(ks.used_bytes() <= limit);
  CHECK(ks.stats().evicted_keys > 0);
  int hot_kept = 0;
  for (int i = 0; i < 200; ++i) hot_kept += ks.lookup_write(0, "k" + std::to_string(i), 0) ? 1 : 0;
  CHECK(hot_kept > 180);  // sampled LRU: nearly all of the recently used survive
}

TEST_CASE("eviction: volatile policies only take keys with a TTL") {
  Keyspace ks(1, 7);
  for (int i = 0; i < 1000; ++i) ks.set(0, "p" + std::to_string(i), std::string(100, 'v'), 0);
  for (int i = 0; i < 100; ++i)
    ks.set(0, "t" + std::to_string(i), std::string(100, 'v'), 100000 + i);
  CHECK_FALSE(ks.evict_to(0, 0, EvictionPolicy::kVolatileTtl, 5));
  CHECK(ks.db_expires(0) == 0);
  CHECK(ks.db_size(0) == 1000);
}
