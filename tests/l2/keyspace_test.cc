// Keyspace: values, lazy and active expiry, memory accounting and eviction policies.
#include "l2/keyspace/keyspace.h"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

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

namespace {
struct Recorder : KeyspaceListener {
  std::vector<std::pair<int, std::string>> modified;
  void on_key_modified(int db, std::string_view key, ModifiedBy) override {
    modified.emplace_back(db, std::string(key));
  }
  void on_flushed(int) override {}
};
}  // namespace

TEST_CASE("copy: a deep copy in the same encoding, with its expiry, into any db") {
  Keyspace ks(2, 6);
  Recorder rec;
  ks.add_listener(&rec);
  auto* z = ks.create<ZSetValue>(0, "z");
  for (int i = 0; i < 200; ++i) z->set("m" + std::to_string(i), i);  // skiplist
  for (int i = 0; i < 190; ++i) z->remove("m" + std::to_string(i));
  ks.set_expire(0, ks.lookup_write(0, "z", 0), 5000);
  ks.set(1, "z", "old string", 0);
  const size_t before = ks.used_bytes();
  rec.modified.clear();
  Entry* c = ks.copy(ks.lookup_write(0, "z", 0), 1, "z");  // replaces db 1's string
  CHECK(rec.modified == std::vector<std::pair<int, std::string>>{{1, "z"}});
  CHECK(ks.used_bytes() > before);
  CHECK(c->expire_at == 5000);
  CHECK(ks.db_expires(1) == 1);
  auto* copy = c->object<ZSetValue>();
  CHECK(copy != z);
  CHECK(copy->encoding() == "skiplist");
  CHECK(copy->size() == 10);
  CHECK(copy->rank("m195") == 5);
  ks.remove(0, "z");  // the copy lives on
  copy->set("m0", -1);
  CHECK(copy->rank("m0") == 0);
  CHECK(ks.lookup_read(1, "z", 0)->object<ZSetValue>()->size() == 11);
  ks.set(0, "s", "value", 0);
  ks.copy(ks.lookup_write(0, "s", 0), 0, "s2");
  CHECK(ks.lookup_read(0, "s2", 0)->value() == "value");
  ks.remove_listener(&rec);
  ks.flush_all();
  CHECK(ks.used_bytes() == 0);
}

TEST_CASE("move: the same entry's value in another db, both dbs signalled") {
  Keyspace ks(3, 7);
  Recorder rec;
  ks.add_listener(&rec);
  auto* h = ks.create<HashValue>(0, "h");
  h->set("f", "v");
  ks.set_expire(0, ks.lookup_write(0, "h", 0), 9000);
  const size_t before = ks.used_bytes() - ks.table_bytes();
  rec.modified.clear();
  Entry* e = ks.move(0, ks.lookup_write(0, "h", 0), 2);
  CHECK(rec.modified == std::vector<std::pair<int, std::string>>{{0, "h"}, {2, "h"}});
  CHECK(e->object<HashValue>() == h);  // moved, not copied
  CHECK(e->expire_at == 9000);
  CHECK(ks.db_size(0) == 0);
  CHECK(ks.db_expires(0) == 0);
  CHECK(ks.db_expires(2) == 1);
  CHECK(ks.used_bytes() - ks.table_bytes() == before);  // only the tables differ
  CHECK(ks.lookup_read(2, "h", 0)->object<HashValue>()->get("f") == "v");
  ks.remove_listener(&rec);
}
