// Keyspace hash table: operations against std::unordered_map, rehashing, and SCAN's guarantee.
#include "l2/keyspace/dict.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <unordered_map>

using tiercache::l2::Dict;
using tiercache::l2::Entry;

namespace {

Entry* make(const std::string& key) {
  auto* e = static_cast<Entry*>(malloc(Entry::alloc_size(key.size(), 0)));
  e->next = nullptr;
  e->expire_at = 0;
  e->key_len = static_cast<uint32_t>(key.size());
  e->val_len = 0;
  e->lru = 0;
  memcpy(e->data(), key.data(), key.size());
  return e;
}

void drop(Dict& d, const std::string& key) { free(d.unlink(key, d.hash(key))); }

std::set<std::string> full_scan(Dict& d) {
  std::set<std::string> seen;
  uint64_t c = 0;
  do {
    c = d.scan(c, [&](Entry* e) { seen.emplace(e->key()); });
  } while (c != 0);
  return seen;
}

}  // namespace

TEST_CASE("random operations agree with a reference map") {
  Dict d(42);
  std::unordered_map<std::string, bool> ref;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    std::string key = "k" + std::to_string(rng() % 5000);
    int op = static_cast<int>(rng() % 3);
    if (op == 0) {
      if (!ref.count(key)) {
        d.insert(make(key), d.hash(key));
        ref[key] = true;
      }
    } else if (op == 1) {
      bool had = ref.erase(key) > 0;
      Entry* e = d.unlink(key, d.hash(key));
      CHECK((e != nullptr) == had);
      free(e);
    } else {
      CHECK((d.find(key) != nullptr) == (ref.count(key) > 0));
    }
    if (i % 5000 == 0) REQUIRE(d.size() == ref.size());
  }
  CHECK(full_scan(d).size() == ref.size());
  d.clear([](Entry* e) { free(e); });
  CHECK(d.size() == 0);
}

TEST_CASE("SCAN returns every key present throughout, while the table grows and shrinks") {
  std::mt19937_64 rng(99);
  for (int round = 0; round < 20; ++round) {
    Dict d(round);
    std::set<std::string> stable;
    for (int i = 0; i < 300; ++i) {
      std::string k = "stable:" + std::to_string(i);
      d.insert(make(k), d.hash(k));
      stable.insert(k);
    }
    std::set<std::string> seen;
    std::vector<std::string> churn;
    uint64_t cursor = 0;
    int step = 0;
    bool growing = round % 2 == 0;
    do {
      cursor = d.scan(cursor, [&](Entry* e) { seen.emplace(e->key()); });
      // Between calls, add or remove other keys so the table resizes and rehashes.
      for (int j = 0; j < 40; ++j) {
        bool add = growing ? churn.size() < 3000 : (churn.empty() || rng() % 3 == 0);
        if (add) {
          std::string k = "churn:" + std::to_string(step) + ":" + std::to_string(j);
          d.insert(make(k), d.hash(k));
          churn.push_back(k);
        } else {
          drop(d, churn.back());
          churn.pop_back();
        }
      }
      if (step % 30 == 29) growing = !growing;  // grow, shrink, grow...
      ++step;
    } while (cursor != 0);
    for (const auto& k : stable) REQUIRE_MESSAGE(seen.count(k) == 1, k);
    d.clear([](Entry* e) { free(e); });
  }
}

TEST_CASE("random_entry returns members and covers the table") {
  Dict d(1);
  for (int i = 0; i < 64; ++i) {
    std::string k = std::to_string(i);
    d.insert(make(k), d.hash(k));
  }
  std::mt19937_64 rng(3);
  std::set<std::string> picked;
  for (int i = 0; i < 5000; ++i) picked.emplace(d.random_entry(rng)->key());
  CHECK(picked.size() == 64);
  d.clear([](Entry* e) { free(e); });
  CHECK(d.random_entry(rng) == nullptr);
}
