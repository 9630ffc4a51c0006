// l2/persistence: CRC64, the RDB object codec and whole files. Payloads captured from
// redis-server 7.0.15's DUMP check that we read what Redis writes (LZF strings, listpacks,
// quicklist-2, intsets); a keyspace of every type survives a write/load round trip; and broken
// input (every truncation, flipped checksums, unsupported types) is refused with an error.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "l2/keyspace/keyspace.h"
#include "l2/persistence/crc64.h"
#include "l2/persistence/rdb_file.h"
#include "l2/persistence/rdb_object.h"

using namespace tiercache::l2;
using namespace tiercache::l2::persistence;
using namespace std::string_literals;

namespace {

std::string unhex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

// Elements of a value as one comparable list of strings (hash fields, zset scores included).
std::vector<std::string> contents(const Entry* e) {
  std::vector<std::string> out;
  switch (static_cast<ValueType>(e->type)) {
    case ValueType::kString: out.emplace_back(e->value()); break;
    case ValueType::kList: e->object<ListValue>()->for_each([&](std::string_view s) { out.emplace_back(s); }); break;
    case ValueType::kSet: e->object<SetValue>()->for_each([&](std::string_view s) { out.emplace_back(s); }); break;
    case ValueType::kHash:
      e->object<HashValue>()->for_each([&](std::string_view f, std::string_view v) {
        out.emplace_back(f);
        out.emplace_back(v);
      });
      break;
    case ValueType::kZSet:
      e->object<ZSetValue>()->for_each([&](std::string_view m, double s) {
        out.emplace_back(m);
        out.push_back(std::to_string(s));
      });
      break;
  }
  std::sort(out.begin(), out.end());
  return out;
}

void fill(Keyspace& ks) {
  ks.set(0, "str", "hello", 0);
  ks.set(0, "int", "-12345", 4102444800000);  // 2100-01-01
  ks.set(0, "bin", std::string("a\0\xff\r\n", 5), 0);
  ks.set(0, "long", std::string(70000, 'x'), 0);
  auto* h = ks.create<HashValue>(0, "hash");
  h->set("f", "v");
  h->set("n", "7");
  auto* hb = ks.create<HashValue>(1, "bighash");
  for (int i = 0; i < 600; ++i) hb->set("f" + std::to_string(i), std::string(i % 90, 'v'));
  auto* l = ks.create<ListValue>(2, "list");
  for (const char* s : {"a", "b", "1", "", "-9"}) l->items().push_back(make_str(s));
  auto* s = ks.create<SetValue>(0, "intset");
  for (const char* m : {"3", "-1", "70000"}) s->add(m);
  auto* s2 = ks.create<SetValue>(0, "set");
  for (const char* m : {"x", "y", "10"}) s2->add(m);
  auto* z = ks.create<ZSetValue>(15, "zset");
  z->set("a", 1.5);
  z->set("b", -0.25);
  z->set("inf", INFINITY);
  auto* zb = ks.create<ZSetValue>(0, "bigzset");
  for (int i = 0; i < 300; ++i) zb->set("m" + std::to_string(i), i * 0.5);
  ks.set_expire(0, ks.lookup_write(0, "hash", 0), 4102444800123);
}

}  // namespace

TEST_CASE("crc64 is Redis's (Jones, reflected)") {
  CHECK(crc64(0, "123456789") == 0xe9c6d914c4b8d9caull);
  CHECK(crc64(0, "") == 0);
  std::string a(1000, 'q');
  CHECK(crc64(crc64(0, std::string_view(a).substr(0, 333)), std::string_view(a).substr(333)) ==
        crc64(0, a));
}

TEST_CASE("DUMP payloads of redis-server 7.0 restore") {
  struct Case {
    const char* hex;
    ValueType type;
    std::vector<std::string> items;
  };
  const Case cases[] = {
      {"00c30b405a0361626361e04b020162630a00238036f9e2d0c780", ValueType::kString, {}},
      {"120102171700000005008161028162020101dff902f2e0930404ff0a00b61467477895e3b0",
       ValueType::kList, {"a", "b", "1", "-7", "300000"}},
      {"1012120000000400816602817602816e020c01ff0a0001369481d35b8974", ValueType::kHash,
       {"f", "v", "n", "12"}},
      {"1115150000000400816202dffe0281610283312e3504ff0a006c359df633d08b5d", ValueType::kZSet,
       {"b", "a"}},
      {"0b140400000003000000fdffffff05000000701101000a009db067c236a65f3f", ValueType::kSet,
       {"-3", "5", "70000"}},
  };
  for (const Case& c : cases) {
    Decoded d;
    REQUIRE(read_payload(unhex(c.hex), &d) == PayloadStatus::kOk);
    CHECK(d.type == c.type);
    if (c.type == ValueType::kString) {
      std::string want;
      for (int i = 0; i < 10; ++i) want += "abcabcabc";
      CHECK(d.str == want);  // LZF-compressed by Redis
    } else {
      CHECK(d.items == c.items);
    }
    if (c.type == ValueType::kZSet) CHECK(d.scores == std::vector<double>{-2, 1.5});
    // A flipped byte anywhere fails the checksum (or the version).
    std::string bad = unhex(c.hex);
    bad[bad.size() / 2] ^= 1;
    CHECK(read_payload(bad, &d) == PayloadStatus::kBadVersionOrChecksum);
  }
}

TEST_CASE("DUMP then RESTORE gives the same value, for every type") {
  Keyspace ks(16, 1), out(16, 2);
  fill(ks);
  for (int db = 0; db < 16; ++db) {
    uint64_t cursor = 0;
    do {
      cursor = ks.scan(db, cursor, [&](const Entry* e) {
        Decoded d;
        REQUIRE(read_payload(dump_payload(*e), &d) == PayloadStatus::kOk);
        std::string why;
        REQUIRE(install(out, db, e->key(), std::move(d), 0, &why));
        CHECK(contents(out.lookup_read(db, e->key(), 0)) == contents(e));
      });
    } while (cursor != 0);
  }
}

TEST_CASE("an RDB file round-trips every db, type and TTL") {
  Keyspace ks(16, 1), back(16, 3);
  fill(ks);
  std::string rdb = rdb_bytes(ks, SaveOptions{1700000000000, 0, 0});
  CHECK(rdb.substr(0, 9) == "REDIS0010");
  LoadStats stats;
  std::string error;
  REQUIRE(load_rdb(rdb, back, 1700000000000, &stats, &error));
  CHECK(stats.keys_loaded == 11);
  for (int db = 0; db < 16; ++db) {
    CHECK(back.db_size(db) == ks.db_size(db));
    CHECK(back.db_expires(db) == ks.db_expires(db));
  }
  CHECK(back.lookup_read(0, "int", 0)->expire_at == 4102444800000);
  CHECK(back.lookup_read(0, "hash", 0)->expire_at == 4102444800123);
  for (auto [db, key] : std::vector<std::pair<int, const char*>>{
           {0, "str"}, {0, "bin"}, {0, "long"}, {0, "hash"}, {1, "bighash"}, {2, "list"},
           {0, "intset"}, {0, "set"}, {15, "zset"}, {0, "bigzset"}})
    CHECK(contents(back.lookup_read(db, key, 0)) == contents(ks.lookup_read(db, key, 0)));
  // Keys already expired at load time are skipped and counted.
  Keyspace later(16, 4);
  REQUIRE(load_rdb(rdb, later, 4102444800001, &stats, &error));
  CHECK(later.lookup_read(0, "int", 0) == nullptr);
  CHECK(later.lookup_read(0, "hash", 0) != nullptr);
}

TEST_CASE("broken RDB files are refused with an error, never a crash") {
  Keyspace ks(16, 1);
  fill(ks);
  std::string rdb = rdb_bytes(ks, SaveOptions{});
  std::string error;
  LoadStats stats;
  for (size_t n = 0; n < rdb.size(); n += (n < 200 ? 1 : 97)) {
    Keyspace k(16, 5);
    CHECK_FALSE(load_rdb(std::string_view(rdb).substr(0, n), k, 0, &stats, &error));
  }
  std::string bad = rdb;
  bad[bad.size() - 1] ^= 0x55;
  Keyspace k1(16, 6);
  CHECK_FALSE(load_rdb(bad, k1, 0, &stats, &error));
  CHECK(error == "wrong RDB checksum");
  Keyspace k2(16, 6);
  CHECK_FALSE(load_rdb("REDIS0011\xff", k2, 0, &stats, &error));
  CHECK(error == "can't handle RDB format version 11");
  Keyspace k3(16, 6);
  // A stream (type 15), a module aux opcode and functions are refused by name.
  CHECK_FALSE(load_rdb("REDIS0010\x0f\x01k\x00"s, k3, 0, &stats, &error));
  CHECK(error.find("streams are not supported") == 0);
  CHECK_FALSE(load_rdb("REDIS0010\xf7"s, k3, 0, &stats, &error));
  CHECK(error.find("module auxiliary data") == 0);
  CHECK_FALSE(load_rdb("REDIS0010\xf5"s, k3, 0, &stats, &error));
  CHECK(error.find("functions") == 0);
  // A db beyond the configured count; a duplicated key.
  Keyspace k4(2, 6);
  CHECK_FALSE(load_rdb(rdb, k4, 0, &stats, &error));
  CHECK(error.find("only 2 databases") != std::string::npos);
  Keyspace k5(16, 6);
  std::string dup = "REDIS0010\x00\x01k\x01v\x00\x01k\x01w\xff"s + std::string(8, '\0');
  CHECK_FALSE(load_rdb(dup, k5, 0, &stats, &error));
  CHECK(error.find("duplicated key 'k'") == 0);
  // A zero checksum means "not computed" (rdbchecksum no), as in Redis.
  Keyspace k6(16, 6);
  CHECK(load_rdb("REDIS0010\x00\x01k\x01v\xff"s + std::string(8, '\0'), k6, 0,
                 &stats, &error));
  CHECK(k6.lookup_read(0, "k", 0)->value() == "v");
}

TEST_CASE("compact blobs are bounds-checked") {
  std::vector<std::string> out;
  std::string why;
  // A listpack whose string entry claims more bytes than it has.
  std::string lp = unhex("0c0000000100" "8a" "61" "ff");
  lp[0] = static_cast<char>(lp.size());
  CHECK_FALSE(parse_listpack(lp, &out, &why));
  CHECK_FALSE(parse_intset(unhex("0400000005000000"), &out, &why));
  CHECK_FALSE(parse_ziplist(unhex("0b000000"), &out, &why));
  Decoded d;
  CHECK(read_payload(unhex("00"), &d) == PayloadStatus::kBadVersionOrChecksum);
}

TEST_CASE("a load reports its progress every 2 MB and stops when told to") {
  Keyspace ks(16, 1);
  uint64_t x = 88172645463325252ull;  // xorshift: values LZF cannot shrink
  for (int i = 0; i < 100; ++i) {     // 100 keys of 100 kB: 10 MB
    std::string value(100000, ' ');
    for (char& ch : value) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      ch = static_cast<char>(x);
    }
    ks.set(0, "k" + std::to_string(i), value, 0);
  }
  std::string rdb = rdb_bytes(ks, SaveOptions{0, 123456, 0});
  std::vector<uint64_t> seen;
  LoadProgress progress;
  progress.events = [&] {
    seen.push_back(progress.loaded_bytes);
    return true;
  };
  Keyspace back(16, 2);
  LoadStats stats;
  std::string error;
  REQUIRE(load_rdb(rdb, back, 0, &stats, &error, &progress));
  CHECK_FALSE(progress.stopped);
  CHECK(back.db_size(0) == 100);
  CHECK(progress.rdb_used_mem == 123456);
  REQUIRE(rdb.size() > 10000000);
  const uint64_t interval = LoadProgress{}.interval_bytes;  // 2 MB, Redis's default
  REQUIRE(seen.size() == 4);  // at the first key past each 2 MB since the last time
  CHECK(seen[0] >= interval);
  for (size_t i = 1; i < seen.size(); ++i) CHECK(seen[i] >= seen[i - 1] + interval);
  // loading-process-events-interval-bytes 1024: every key (100 kB each) is past the next turn.
  seen.clear();
  progress = LoadProgress{};
  progress.interval_bytes = 1024;
  progress.events = [&] {
    seen.push_back(progress.loaded_bytes);
    return true;
  };
  Keyspace often(16, 2);
  REQUIRE(load_rdb(rdb, often, 0, &stats, &error, &progress));
  CHECK(often.db_size(0) == 100);
  CHECK(seen.size() == 100);  // before each key but the first, and before the EOF opcode
  // A false from events() (a shutdown) stops the load: true, the keys so far kept.
  int calls = 0;
  progress = LoadProgress{};
  progress.events = [&] { return ++calls < 2; };
  Keyspace cut(16, 3);
  REQUIRE(load_rdb(rdb, cut, 0, &stats, &error, &progress));
  CHECK(progress.stopped);
  CHECK(calls == 2);
  CHECK(cut.db_size(0) > 0);
  CHECK(cut.db_size(0) < 100);
}
