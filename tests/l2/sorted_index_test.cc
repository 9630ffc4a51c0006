// SortedIndex (l2/keyspace/sorted_index.h) against a std::set model: random inserts, erases,
// rank counts, i-th entries and walks over enough members for a tree three levels deep, with
// repeated scores (members break the tie), -0 and 0, and the empty member; fills in order and
// in reverse, the leaves' fill they give, and that every byte is given back.
#include "l2/keyspace/sorted_index.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace tiercache::l2;

namespace {

using Model = std::set<std::pair<double, std::string>>;

// The index and the table that owns its members, as a sorted set holds them.
struct Fixture {
  ScanTable<double> members;
  SortedIndex index;
  Model model;

  void add(double score, const std::string& m) {
    REQUIRE(members.find(m) == nullptr);
    index.insert(score, members.insert(m, score));
    model.emplace(score, m);
  }
  bool remove(const std::string& m) {
    auto* n = members.find(m);
    if (n == nullptr) {
      CHECK_FALSE(index.erase(0, m));
      return false;
    }
    REQUIRE(index.erase(n->value, m));
    CHECK_FALSE(index.erase(n->value, m));  // gone
    model.erase({n->value, m});
    members.erase(m);
    return true;
  }
  size_t model_before(double s, const std::string& m, bool inclusive) const {
    size_t r = 0;
    for (const auto& [ms, mm] : model) {
      bool before = ms < s || (ms == s && (inclusive ? mm <= m : mm < m));
      if (!before) break;
      ++r;
    }
    return r;
  }
  void check_all() const {
    REQUIRE(index.size() == model.size());
    std::vector<std::pair<double, std::string>> walked;
    if (!model.empty())
      index.walk(0, model.size() - 1, [&](const SortedIndex::Entry& e) {
        walked.emplace_back(e.score, std::string(e.key()));
      });
    CHECK(walked == std::vector<std::pair<double, std::string>>(model.begin(), model.end()));
  }
};

}  // namespace

TEST_CASE("sorted index: random operations agree with an ordered set") {
  std::mt19937_64 rng(42);
  Fixture f;
  std::vector<std::string> names;
  for (int i = 0; i < 6000; ++i)
    names.push_back(i == 0 ? std::string() : "m" + std::to_string(rng() % 100000));
  // Few distinct scores, so ties are many; -0 and 0 among them.
  std::vector<double> scores = {-0.0, 0.0, 1.5, -3, 7, 1e300, -INFINITY, INFINITY};
  for (int round = 0; round < 3; ++round) {
    for (int step = 0; step < 40000; ++step) {
      const std::string& m = names[rng() % names.size()];
      double s = rng() % 4 == 0 ? scores[rng() % scores.size()] : static_cast<double>(rng() % 50);
      switch (rng() % 8) {
        case 0:
        case 1:
        case 2:
        case 3:
          if (f.members.find(m) == nullptr) f.add(s, m);
          break;
        case 4:
        case 5:
          f.remove(m);
          break;
        case 6: {
          bool inclusive = rng() % 2 == 0;
          CHECK(f.index.count_before(s, m, inclusive) == f.model_before(s, m, inclusive));
          break;
        }
        case 7:
          if (!f.model.empty()) {
            size_t i = rng() % f.model.size();
            auto it = std::next(f.model.begin(), static_cast<long>(i));
            const auto& e = f.index.at(i);
            CHECK(e.score == it->first);
            CHECK(e.key() == it->second);
            size_t to = std::min(f.model.size() - 1, i + rng() % 200);
            size_t seen = 0;
            f.index.walk(i, to, [&](const SortedIndex::Entry& w) {
              CHECK(w.key() == it->second);
              ++it, ++seen;
            });
            CHECK(seen == to - i + 1);
          }
          break;
      }
      if (step % 5000 == 0) f.check_all();
    }
    f.check_all();
    // Empty it in a random order; the rank of every member stays right on the way.
    std::vector<std::string> left;
    for (const auto& [s, m] : f.model) left.push_back(m);
    std::shuffle(left.begin(), left.end(), rng);
    for (size_t j = 0; j < left.size(); ++j) {
      if (j % 97 == 0) {
        auto* n = f.members.find(left[j]);
        CHECK(f.index.count_before(n->value, left[j], false) ==
              f.model_before(n->value, left[j], false));
      }
      REQUIRE(f.remove(left[j]));
      if (j % 1000 == 0) f.check_all();
    }
    f.check_all();
    CHECK(f.index.allocated_bytes() == 0);
  }
}

TEST_CASE("sorted index: a set filled in order packs its leaves, in reverse half-fills them") {
  size_t base = mem::g_value_bytes;
  {
    Fixture f;
    for (int i = 0; i < 100000; ++i) f.add(i, "member:" + std::to_string(i));
    f.check_all();
    // Leaves of 64 entries of 16 bytes, full: about 17 bytes per entry with the inner nodes.
    double per = static_cast<double>(f.index.allocated_bytes()) / 100000.0;
    CHECK(per > 16.0);
    CHECK(per < 18.0);
    CHECK(f.index.count_before(500, "", false) == 500);
    CHECK(f.index.count_before(500, "member:500", true) == 501);
    CHECK(f.index.at(99999).key() == "member:99999");
  }
  {
    Fixture f;
    for (int i = 100000; i > 0; --i) f.add(i, "m" + std::to_string(i));
    f.check_all();
    double per = static_cast<double>(f.index.allocated_bytes()) / 100000.0;
    CHECK(per < 37.0);  // half-full leaves (and inner nodes) at worst
    f.index.clear();
    CHECK(f.index.allocated_bytes() == 0);
    CHECK(f.index.size() == 0);
  }
  CHECK(mem::g_value_bytes == base);
}

TEST_CASE("sorted index: erasing most of a large set gives its nodes back") {
  Fixture f;
  for (int i = 0; i < 50000; ++i) f.add(i % 7, "k" + std::to_string(i));
  size_t full = f.index.allocated_bytes();
  for (int i = 0; i < 50000; ++i)
    if (i % 10 != 0) REQUIRE(f.remove("k" + std::to_string(i)));
  f.check_all();
  // 5,000 left: merged leaves hold at least a quarter of their 64 entries each.
  CHECK(f.index.allocated_bytes() < full / 2);
  CHECK(static_cast<double>(f.index.allocated_bytes()) / 5000.0 < 80.0);
}
