// Typed values: the compact encodings (pack, intset), their one-way conversions at Redis 7.0's
// thresholds, sorted-set order statistics in both encodings against a reference, and the
// memory accounting of values owned by keyspace entries.
#include "l2/keyspace/values.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>

#include "l2/keyspace/keyspace.h"

using namespace tiercache::l2;

TEST_CASE("pack entries round-trip, long and empty ones included") {
  Pack p;
  std::string big(300, 'x');
  p.push_back("a");
  p.push_back("");
  p.push_back(big);
  p.insert(0, "first");
  CHECK(p.count() == 4);
  size_t off = 0;
  CHECK(p.at(off, &off) == "first");
  CHECK(p.at(off, &off) == "a");
  size_t empty_at = off;
  CHECK(p.at(off, &off) == "");
  CHECK(p.at(off, &off) == big);
  CHECK(off == p.end());
  p.replace(empty_at, "filled");
  p.erase(0, 1);
  off = 0;
  CHECK(p.at(off, &off) == "a");
  CHECK(p.at(off, &off) == "filled");
  CHECK(p.count() == 3);
}

TEST_CASE("strict_int64 accepts Redis's canonical integers only") {
  int64_t v;
  CHECK(strict_int64("0", &v));
  CHECK(strict_int64("-9223372036854775808", &v));
  CHECK(v == INT64_MIN);
  CHECK_FALSE(strict_int64("9223372036854775808", &v));
  CHECK_FALSE(strict_int64("01", &v));
  CHECK_FALSE(strict_int64("-0", &v));
  CHECK_FALSE(strict_int64("+1", &v));
  CHECK_FALSE(strict_int64(" 1", &v));
  CHECK_FALSE(strict_int64("", &v));
}

TEST_CASE("hash: listpack until a threshold, then hashtable, same contents") {
  EncodingLimits saved = encoding_limits();
  encoding_limits().hash_max_listpack_entries = 4;
  HashValue h;
  for (int i = 0; i < 4; ++i) CHECK(h.set("f" + std::to_string(i), "v" + std::to_string(i)));
  CHECK(h.encoding() == "listpack");
  CHECK_FALSE(h.set("f1", "changed"));
  CHECK(*h.get("f1") == "changed");
  CHECK(h.set("f4", "v4"));
  CHECK(h.encoding() == "hashtable");
  CHECK(h.size() == 5);
  CHECK(*h.get("f1") == "changed");
  CHECK(h.del("f0"));
  CHECK_FALSE(h.get("f0"));
  HashValue longv;
  longv.set("k", std::string(65, 'v'));
  CHECK(longv.encoding() == "hashtable");
  encoding_limits() = saved;
}

TEST_CASE("set: intset stays sorted, converts on a non-integer or past the limit") {
  SetValue s;
  for (const char* m : {"5", "-3", "10", "5"}) s.add(m);
  CHECK(s.encoding() == "intset");
  std::string order;
  s.for_each([&](std::string_view m) { order += std::string(m) + ","; });
  CHECK(order == "-3,5,10,");
  CHECK(s.add("x"));
  CHECK(s.encoding() == "hashtable");
  CHECK(s.contains("5"));
  CHECK(s.contains("x"));
  CHECK(s.size() == 4);
  CHECK(s.remove("-3"));
  CHECK_FALSE(s.contains("-3"));
}

// The sorted set's answers in one encoding against a reference std::set.
void check_zset_against_reference(bool packed) {
  EncodingLimits saved = encoding_limits();
  encoding_limits().zset_max_listpack_entries = packed ? 1000 : 0;
  ZSetValue z;
  std::map<std::string, double> scores;
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::string m = "m" + std::to_string(rng() % 120);
    double s = static_cast<double>(rng() % 20);
    if (rng() % 5 == 0) {
      CHECK(z.remove(m) == (scores.erase(m) == 1));
    } else {
      z.set(m, s);
      scores[m] = s;
    }
  }
  CHECK(z.encoding() == (packed ? "listpack" : "skiplist"));
  std::set<std::pair<double, std::string>> ref;
  for (const auto& [m, s] : scores) ref.emplace(s, m);
  REQUIRE(z.size() == ref.size());
  auto all = z.range(0, z.size() - 1);
  size_t i = 0;
  for (const auto& [s, m] : ref) {
    CHECK(all[i].member == m);
    CHECK(all[i].score == s);
    CHECK(*z.rank(m) == i);
    ++i;
  }
  for (double bound = -1; bound < 21; bound += 0.5) {
    size_t below = 0, below_eq = 0;
    for (const auto& [s, m] : ref) {
      below += s < bound;
      below_eq += s <= bound;
    }
    CHECK(z.count_below_score(bound, false) == below);
    CHECK(z.count_below_score(bound, true) == below_eq);
  }
  encoding_limits() = saved;
}

TEST_CASE("zset order statistics: listpack") { check_zset_against_reference(true); }
TEST_CASE("zset order statistics: skiplist") { check_zset_against_reference(false); }

TEST_CASE("zset lex counts when all scores are equal") {
  for (bool packed : {true, false}) {
    EncodingLimits saved = encoding_limits();
    encoding_limits().zset_max_listpack_entries = packed ? 1000 : 0;
    ZSetValue z;
    for (const char* m : {"a", "b", "c", "d"}) z.set(m, 0);
    CHECK(z.count_below_lex("b", false) == 1);
    CHECK(z.count_below_lex("b", true) == 2);
    CHECK(z.count_below_lex("bb", true) == 2);
    CHECK(z.count_below_lex("z", false) == 4);
    encoding_limits() = saved;
  }
}

TEST_CASE("value memory is accounted and returned when the keyspace frees the entry") {
  Keyspace ks(1, 3);
  size_t base = mem::g_value_bytes;
  size_t used0 = ks.used_bytes();
  auto* z = ks.create<ZSetValue>(0, "z");
  for (int i = 0; i < 1000; ++i) z->set("member-" + std::to_string(i), i);
  auto* h = ks.create<HashValue>(0, "h");
  for (int i = 0; i < 1000; ++i) h->set("field-" + std::to_string(i), "value");
  CHECK(mem::g_value_bytes - base > 1000 * 16);
  CHECK(ks.used_bytes() > used0 + 1000 * 16);
  Entry* e = ks.lookup_write(0, "h", 0);
  REQUIRE(e != nullptr);
  CHECK(e->type == static_cast<uint8_t>(ValueType::kHash));
  ks.set_expire(0, e, 5000);
  Entry* moved = ks.rename(0, e, "h2");
  CHECK(moved->object<HashValue>() == h);
  CHECK(moved->expire_at == 5000);
  CHECK(ks.lookup_write(0, "h", 0) == nullptr);
  CHECK(ks.db_expires(0) == 1);
  CHECK(ks.remove(0, "z"));
  ks.set(0, "h2", "now a string", 0);  // replacing the hash frees it
  CHECK(ks.lookup_read(0, "h2", 0)->is_string());
  CHECK(mem::g_value_bytes == base);
  CHECK(ks.lookup_write(0, "h2", 6000) != nullptr);  // the string has no TTL
  ks.create<ListValue>(0, "l")->items().push_back(make_str("x"));
  ks.flush_all();
  CHECK(mem::g_value_bytes == base);
}

TEST_CASE("eviction removes typed values and frees their memory") {
  Keyspace ks(1, 4);
  size_t base = mem::g_value_bytes;
  for (int k = 0; k < 50; ++k) {
    auto* s = ks.create<SetValue>(0, "s" + std::to_string(k));
    for (int i = 0; i < 200; ++i) s->add("member-" + std::to_string(i));
  }
  size_t full = ks.used_bytes();
  CHECK(ks.evict_to(full / 2, 0, EvictionPolicy::kAllKeysRandom, 5));
  CHECK(ks.used_bytes() <= full / 2);
  CHECK(ks.db_size(0) < 50);
  ks.flush_all();
  CHECK(mem::g_value_bytes == base);
}

TEST_CASE("a value object's pointer sits aligned in its entry, whatever the key's length") {
  // Unaligned, LeakSanitizer cannot see it and reports every typed value as leaked.
  Keyspace ks(1, 5);
  for (std::string key : {"", "a", "odd", "seven77", "eight888", "a-longer-key-of-29-bytes-long"}) {
    auto* l = ks.create<ListValue>(0, key);
    Entry* e = ks.lookup_write(0, key, 0);
    REQUIRE(e != nullptr);
    CHECK(reinterpret_cast<uintptr_t>(e->value().data()) % alignof(void*) == 0);
    CHECK(e->object<ListValue>() == l);
    CHECK(e->key() == key);
    Entry* moved = ks.rename(0, e, key + "+renamed");
    CHECK(reinterpret_cast<uintptr_t>(moved->value().data()) % alignof(void*) == 0);
    CHECK(moved->object<ListValue>() == l);
  }
  ks.flush_all();
}

TEST_CASE("zset listpack scores: integers stored compactly round-trip exactly, others as doubles") {
  const double scores[] = {0,     1,          -1,         127,        128,
                           -128,  -129,       255,        256,        65535,
                           -65536, 1e15,      -1e15,      9007199254740992.0,
                           -9007199254740992.0, 9007199254740994.0, 1e300, 0.5,
                           -2.25, std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(), 4503599627370497.0};
  ZSetValue z;
  std::multimap<double, std::string> order;
  int i = 0;
  for (double s : scores) {
    std::string m = "m" + std::to_string(i++);
    z.set(m, s);
    order.emplace(s, m);
  }
  REQUIRE(z.encoding() == "listpack");
  i = 0;
  for (double s : scores) CHECK(*z.score("m" + std::to_string(i++)) == s);
  auto items = z.range(0, z.size() - 1);
  REQUIRE(items.size() == order.size());
  auto it = order.begin();
  for (const auto& item : items) CHECK((item.score == (it++)->first));
  // A listpack keeps -0 as the integer 0, as Redis's does.
  z.set("neg-zero", -0.0);
  CHECK(!std::signbit(*z.score("neg-zero")));
  // Compact: 100 members with small integer scores take less than with 8-byte scores would.
  ZSetValue small;
  for (int k = 0; k < 100; ++k) small.set("member-" + std::to_string(k), k % 50);
  CHECK(small.memory_usage(SIZE_MAX) < 100 * 15);  // about 12 bytes each; 19 with raw doubles
}
