// ScanTable (the large encodings' hash table): operations against std::map, memory accounting,
// and the SCAN guarantee (every element present throughout a walk is returned) while the table
// grows and shrinks between steps.
#include "l2/keyspace/scan_table.h"

#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>
#include <string>

using tiercache::l2::NoValue;
using tiercache::l2::ScanTable;
namespace mem = tiercache::l2::mem;

TEST_CASE("random operations agree with a reference map and free every byte") {
  size_t before = mem::g_value_bytes;
  {
    ScanTable<int> t;
    std::map<std::string, int> ref;
    std::mt19937_64 rng(7);
    for (int i = 0; i < 50000; ++i) {
      std::string k = "k" + std::to_string(rng() % 5000);
      switch (rng() % 3) {
        case 0:
          if (auto* n = t.find(k)) {
            n->value = i;
          } else {
            t.insert(k, i);
          }
          ref[k] = i;
          break;
        case 1:
          CHECK(t.erase(k) == (ref.erase(k) == 1));
          break;
        default: {
          auto* n = t.find(k);
          auto it = ref.find(k);
          REQUIRE((n != nullptr) == (it != ref.end()));
          if (n != nullptr) CHECK(n->value == it->second);
        }
      }
      REQUIRE(t.size() == ref.size());
    }
    std::map<std::string, int> walked;
    t.for_each([&](const auto& n) { walked.emplace(std::string(n.key()), n.value); });
    CHECK(walked == ref);
    ScanTable<int> copy(t);
    CHECK(copy.size() == t.size());
    for (const auto& [k, v] : ref) CHECK(copy.find(k)->value == v);
  }
  CHECK(mem::g_value_bytes == before);
}

TEST_CASE("a table shrinks when mostly empty and grows again") {
  ScanTable<NoValue> t;
  for (int i = 0; i < 10000; ++i) t.insert(std::to_string(i), {});
  size_t big = t.bucket_count();
  CHECK(big >= 10000);
  CHECK((big & (big - 1)) == 0);
  for (int i = 0; i < 9990; ++i) CHECK(t.erase(std::to_string(i)));
  CHECK(t.bucket_count() < big / 100);
  for (int i = 9990; i < 10000; ++i) CHECK(t.find(std::to_string(i)) != nullptr);
}

namespace {
// Walks the table to the end; between steps `between(step)` may change it. Returns what was seen.
template <class F>
std::set<std::string> walk(ScanTable<NoValue>& t, F&& between, size_t* steps) {
  std::set<std::string> seen;
  uint64_t cursor = 0;
  *steps = 0;
  do {
    cursor = t.scan(cursor, [&](const auto& n) { seen.emplace(n.key()); });
    between((*steps)++);
  } while (cursor != 0);
  return seen;
}
}  // namespace

TEST_CASE("a walk over a still table returns every element, one bucket per step") {
  ScanTable<NoValue> t;
  for (int i = 0; i < 1000; ++i) t.insert("m" + std::to_string(i), {});
  size_t steps;
  auto seen = walk(t, [](size_t) {}, &steps);
  CHECK(seen.size() == 1000);
  CHECK(steps == t.bucket_count());
}

TEST_CASE("SCAN returns every element present throughout while the table grows and shrinks") {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    ScanTable<NoValue> t;
    // Stable members stay for the whole walk; transient ones come and go between steps, by
    // thousands at a time so the table grows 16-fold and shrinks back (below 1/10 full)
    // several times mid-walk.
    const int stable = 200;
    for (int i = 0; i < stable; ++i) t.insert("stable" + std::to_string(i), {});
    int first_live = 0, next_transient = 0;  // the transient members in the table now
    auto erase_transients = [&] {
      for (int i = first_live; i < next_transient; ++i) t.erase("t" + std::to_string(i));
      first_live = next_transient;
    };
    size_t steps, grew = 0, shrank = 0;
    auto seen = walk(
        t,
        [&](size_t step) {
          const size_t buckets = t.bucket_count();
          if (step % 10 == 0) {
            if (rng() % 2 == 0) {
              for (int i = 0; i < 2000; ++i) t.insert("t" + std::to_string(next_transient++), {});
            } else {
              erase_transients();
            }
          }
          if (first_live < next_transient && rng() % 3 == 0) erase_transients();
          grew += t.bucket_count() > buckets;
          shrank += t.bucket_count() < buckets;
        },
        &steps);
    for (int i = 0; i < stable; ++i) REQUIRE(seen.count("stable" + std::to_string(i)) == 1);
    CHECK(grew >= 2);  // what the test is about: resizes in both directions mid-walk
    CHECK(shrank >= 2);
  }
}
