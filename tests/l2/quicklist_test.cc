// QuickList (l2/keyspace/quicklist.h) against a std::deque model: random pushes, pops, inserts,
// sets, erases and walks in both directions over elements of every size class (empty, one
// byte, around the varint boundary of 128, larger than a node), checking contents and the
// memory counter after every step, and that every byte is given back.
#include "l2/keyspace/quicklist.h"

#include <doctest/doctest.h>

#include <deque>
#include <random>
#include <string>
#include <vector>

using namespace tiercache::l2;

namespace {

std::vector<std::string> contents(const QuickList& q) {
  std::vector<std::string> out;
  q.for_each([&](std::string_view s) { out.emplace_back(s); });
  return out;
}

void check_same(const QuickList& q, const std::deque<std::string>& model) {
  REQUIRE(q.size() == model.size());
  CHECK(contents(q) == std::vector<std::string>(model.begin(), model.end()));
  if (!model.empty()) {
    CHECK(q.front() == model.front());
    CHECK(q.back() == model.back());
  }
  // Backward walk from the last element sees the reverse.
  std::vector<std::string> back;
  if (!model.empty())
    q.walk(model.size() - 1, false, [&](size_t i, std::string_view s) {
      CHECK(s == model[i]);
      back.emplace_back(s);
      return true;
    });
  CHECK(back.size() == model.size());
}

std::string element(std::mt19937& rng, size_t n) {
  static const size_t sizes[] = {0, 1, 5, 16, 127, 128, 129, 300, 5000, 9000};
  size_t len = sizes[rng() % (sizeof(sizes) / sizeof(sizes[0]))];
  std::string s(len, static_cast<char>('a' + n % 26));
  if (!s.empty()) s[0] = static_cast<char>('0' + n % 10);
  return s;
}

}  // namespace

TEST_CASE("quicklist: pushes and pops at both ends across many nodes") {
  size_t before = mem::g_value_bytes;
  {
    QuickList q;
    std::deque<std::string> model;
    for (int i = 0; i < 5000; ++i) {
      std::string s = "element-" + std::to_string(i);
      if (i % 3 == 0) {
        q.push_front(s);
        model.push_front(s);
      } else {
        q.push_back(s);
        model.push_back(s);
      }
    }
    CHECK(q.node_count() > 5);  // 8 KiB nodes
    check_same(q, model);
    for (size_t i = 0; i < model.size(); i += 97) CHECK(q.at(i) == model[i]);
    for (int i = 0; i < 2500; ++i) {
      if (i % 2) {
        q.pop_front();
        model.pop_front();
      } else {
        q.pop_back();
        model.pop_back();
      }
    }
    check_same(q, model);
    CHECK(mem::g_value_bytes > before);
  }
  CHECK(mem::g_value_bytes == before);
}

TEST_CASE("quicklist: random operations agree with a deque") {
  std::mt19937 rng(12345);
  size_t before = mem::g_value_bytes;
  {
    QuickList q;
    std::deque<std::string> model;
    for (int step = 0; step < 20000; ++step) {
      int op = static_cast<int>(rng() % 10);
      std::string s = element(rng, static_cast<size_t>(step));
      size_t n = model.size();
      if (op <= 2 || n == 0) {
        if (rng() % 2) {
          q.push_front(s);
          model.push_front(s);
        } else {
          q.push_back(s);
          model.push_back(s);
        }
      } else if (op == 3) {
        q.pop_front();
        model.pop_front();
      } else if (op == 4) {
        q.pop_back();
        model.pop_back();
      } else if (op == 5) {
        size_t i = rng() % (n + 1);
        q.insert(i, s);
        model.insert(model.begin() + static_cast<long>(i), s);
      } else if (op == 6) {
        size_t i = rng() % n;
        q.set(i, s);
        model[i] = s;
      } else if (op == 7) {
        size_t i = rng() % n, k = rng() % 40;
        q.erase(i, k);
        model.erase(model.begin() + static_cast<long>(i),
                    model.begin() + static_cast<long>(std::min(n, i + k)));
      } else if (op == 8) {
        size_t i = rng() % n;
        CHECK(q.at(i) == model[i]);
      } else {
        size_t i = rng() % n;
        bool forward = rng() % 2;
        size_t seen = 0;
        q.walk(i, forward, [&](size_t k, std::string_view e) {
          CHECK(e == model[k]);
          return ++seen < 50;
        });
      }
      if (step % 997 == 0) check_same(q, model);
    }
    check_same(q, model);
    q.clear();
    CHECK(q.size() == 0);
    CHECK(q.allocated_bytes() == 0);
  }
  CHECK(mem::g_value_bytes == before);
}

TEST_CASE("quicklist: copies are deep, erase to empty frees every node") {
  QuickList q;
  for (int i = 0; i < 3000; ++i) q.push_back("v" + std::to_string(i));
  QuickList copy = q;
  q.set(0, "changed");
  CHECK(copy.at(0) == "v0");
  CHECK(q.at(0) == "changed");
  CHECK(copy.size() == 3000);
  copy.erase(0, copy.size());
  CHECK(copy.size() == 0);
  CHECK(copy.node_count() == 0);
  CHECK(copy.allocated_bytes() == 0);
  // Small lists stay one small buffer (the compact encoding's point).
  QuickList small;
  for (int i = 0; i < 10; ++i) small.push_back("0123456789abcdef");
  CHECK(small.node_count() == 1);
  CHECK(small.allocated_bytes() < 10 * 18 * 5 / 4 + 64);
}
