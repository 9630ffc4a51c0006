// bench_l1: single-threaded get/set throughput of the L1 store, bytes of overhead per item
// (32-byte keys, 100-byte values), and hit ratio on a Zipf(0.99) trace with the cache holding
// 10% of the keys, against an exact LRU simulated here. Also, with per-hash-slot generations
// (l2-mode cluster), hit throughput and the cost of dropping one master's third of the slots.
// Prints a table and a RESULT line.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <list>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "l1/store.h"

namespace {

using tiercache::l1::GetResult;
using tiercache::l1::Options;
using tiercache::l1::Store;

constexpr size_t kKeyBytes = 32;
constexpr size_t kValueBytes = 100;
constexpr double kItemBytes = kKeyBytes + kValueBytes;

std::string make_key(uint64_t i) {
  char buf[kKeyBytes + 1];
  std::snprintf(buf, sizeof(buf), "bench:key:%022llu", static_cast<unsigned long long>(i));
  return std::string(buf, kKeyBytes);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::unique_ptr<Store> open_store(const std::string& name, uint64_t bytes,
                                  bool hash_slots = false) {
  Store::unlink(name);
  Options o;
  o.name = name;
  o.memory_bytes = bytes;
  o.hash_slot_generations = hash_slots;
  o.max_ttl_ms = 0;
  o.expected_item_bytes = 128;  // the default sizing, not tuned to this item size
  std::string error;
  auto s = Store::open(o, &error);
  if (!s) {
    std::fprintf(stderr, "open: %s\n", error.c_str());
    std::exit(1);
  }
  return s;
}

struct Throughput {
  double get_ops, hot_get_ops, set_ops, miss_ops;
  // hash_slots: flush_slots of slots 0..5460 (one master of three): its time, the items' share
  double flush_us = 0, dropped_share = 0;
};

// hash_slots: with per-hash-slot generations (l2-mode cluster: the key's CRC16 in every lookup).
Throughput measure_throughput(const std::string& name, bool hash_slots) {
  constexpr uint64_t kItems = 100000;
  auto s = open_store(name, 64ull << 20, hash_slots);
  std::vector<std::string> keys;
  for (uint64_t i = 0; i < kItems; ++i) keys.push_back(make_key(i));
  const std::string value(kValueBytes, 'v');
  for (const auto& k : keys) s->set(0, k, value, 0);
  std::mt19937_64 rng(3);
  std::vector<uint32_t> order(1 << 20);
  for (auto& x : order) x = static_cast<uint32_t>(rng() % kItems);

  std::string out;
  out.reserve(256);
  constexpr uint64_t kGets = 4'000'000, kSets = 1'000'000;
  uint64_t hits = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < kGets; ++i) {
    hits += s->get(0, keys[order[i & (order.size() - 1)]], &out, nullptr) == GetResult::kHit;
  }
  const double get_ops = kGets / seconds_since(t0);
  if (hits != kGets)
    std::fprintf(stderr, "warning: %llu get misses\n",
                 static_cast<unsigned long long>(kGets - hits));
  t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < kGets; ++i)
    s->get(0, keys[order[i & (order.size() - 1)] % 1000], &out, nullptr);
  const double hot_get_ops = kGets / seconds_since(t0);
  const std::string missing = make_key(999999999);
  t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < kGets; ++i) s->get(1, missing, &out, nullptr);
  const double miss_ops = kGets / seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < kSets; ++i) s->set(0, keys[order[i & (order.size() - 1)]], value, 0);
  const double set_ops = kSets / seconds_since(t0);
  Throughput r{get_ops, hot_get_ops, set_ops, miss_ops};
  if (hash_slots) {
    std::vector<uint16_t> third;
    for (uint16_t slot = 0; slot <= 5460; ++slot) third.push_back(slot);
    const double before = static_cast<double>(s->stats().items);
    t0 = std::chrono::steady_clock::now();
    s->flush_slots(third);
    r.flush_us = seconds_since(t0) * 1e6;
    r.dropped_share = 1.0 - static_cast<double>(s->stats().items) / before;
  }
  Store::unlink(name);
  return r;
}

struct Overhead {
  double steady;  // segment bytes per item minus key+value, after 3x capacity of inserts
  uint64_t items_steady;
  double index_eviction_share;  // evictions forced by a full index neighbourhood
};

Overhead measure_overhead(const std::string& name, uint64_t bytes) {
  auto s = open_store(name, bytes);
  const std::string value(kValueBytes, 'v');
  uint64_t i = 0;
  while (s->stats().evictions == 0) s->set(0, make_key(i++), value, 0);
  const uint64_t target = i * 3;
  while (i < target) s->set(0, make_key(i++), value, 0);
  const auto st = s->stats();
  Store::unlink(name);
  return {bytes / static_cast<double>(st.items) - kItemBytes, st.items,
          static_cast<double>(st.index_evictions) / static_cast<double>(st.evictions)};
}

// Exact LRU over item counts: hash map + recency list.
class Lru {
 public:
  explicit Lru(size_t capacity) : capacity_(capacity) {}
  bool access(uint32_t key) {  // true on hit; inserts on miss
    auto it = map_.find(key);
    if (it != map_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      return true;
    }
    order_.push_front(key);
    map_[key] = order_.begin();
    if (map_.size() > capacity_) {
      map_.erase(order_.back());
      order_.pop_back();
    }
    return false;
  }

 private:
  size_t capacity_;
  std::list<uint32_t> order_;
  std::unordered_map<uint32_t, std::list<uint32_t>::iterator> map_;
};

struct HitRatio {
  double l1, lru_same_items, lru_same_bytes, index_eviction_share;
  uint64_t l1_items, lru_bytes_items;
  uint64_t memory;
};

HitRatio measure_hit_ratio(const std::string& name, double bytes_per_item) {
  constexpr uint32_t kKeys = 200000;
  constexpr uint64_t kWarmup = 2'000'000, kMeasured = 4'000'000;
  // Zipf(0.99) by inverse CDF; ranks mapped to keys by a random permutation.
  std::vector<double> cdf(kKeys);
  double sum = 0;
  for (uint32_t r = 0; r < kKeys; ++r) cdf[r] = (sum += 1.0 / std::pow(r + 1.0, 0.99));
  for (auto& c : cdf) c /= sum;
  std::vector<uint32_t> perm(kKeys);
  for (uint32_t r = 0; r < kKeys; ++r) perm[r] = r;
  std::mt19937_64 rng(11);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::uniform_real_distribution<double> uni(0, 1);
  std::vector<uint32_t> trace(kWarmup + kMeasured);
  for (auto& t : trace) {
    const uint32_t r =
        static_cast<uint32_t>(std::lower_bound(cdf.begin(), cdf.end(), uni(rng)) - cdf.begin());
    t = perm[std::min(r, kKeys - 1)];
  }
  std::vector<std::string> keys(kKeys);
  for (uint32_t k = 0; k < kKeys; ++k) keys[k] = make_key(k);

  // The segment is sized so that L1 holds about 10% of the keys at its measured footprint.
  const uint64_t memory = static_cast<uint64_t>(kKeys * 0.10 * (bytes_per_item + kItemBytes));
  auto s = open_store(name, memory);
  const std::string value(kValueBytes, 'v');
  std::string out;
  uint64_t hits = 0;
  for (uint64_t i = 0; i < trace.size(); ++i) {
    const std::string& k = keys[trace[i]];
    if (s->get(0, k, &out, nullptr) == GetResult::kHit) {
      hits += i >= kWarmup;
    } else {
      s->set(0, k, value, 0);
    }
  }
  const auto st = s->stats();
  const uint64_t l1_items = st.items;
  Store::unlink(name);

  auto run_lru = [&](size_t capacity) {
    Lru lru(capacity);
    uint64_t h = 0;
    for (uint64_t i = 0; i < trace.size(); ++i) h += lru.access(trace[i]) && i >= kWarmup;
    return static_cast<double>(h) / kMeasured;
  };
  const uint64_t same_bytes_items = static_cast<uint64_t>(memory / kItemBytes);
  return {static_cast<double>(hits) / kMeasured,
          run_lru(l1_items),
          run_lru(same_bytes_items),
          static_cast<double>(st.index_evictions) / static_cast<double>(st.evictions),
          l1_items,
          same_bytes_items,
          memory};
}

}  // namespace

int main() {
  const std::string name = "bench-l1-" + std::to_string(getpid());
  const Throughput t = measure_throughput(name, false);
  const Overhead o = measure_overhead(name, 32ull << 20);
  const HitRatio h = measure_hit_ratio(name, o.steady);
  const Throughput sl = measure_throughput(name, true);

  std::printf("%-46s %-22s %s\n", "metric", "tiercache L1", "reference (baselines.md)");
  std::printf("%-46s %-22.0f %s\n", "get ops/s, hit, 32B key/100B value, 1 thread", t.get_ops,
              "shm read 0.05-0.1 us; socket trip 20-60 us");
  std::printf("%-46s %-22.0f %s\n", "get ops/s, hit, hot set of 1000 keys", t.hot_get_ops, "");
  std::printf("%-46s %-22.0f %s\n", "get ops/s, miss", t.miss_ops, "");
  std::printf("%-46s %-22.0f %s\n", "set ops/s, overwrite, 1 thread", t.set_ops,
              "redis SET unix -P1 121k, memcached 114k");
  std::printf("%-46s %-22.1f %s\n", "overhead bytes/item, full cache (goal <= 40)", o.steady,
              "memcached 59, Redis 87");
  char ref[128];
  std::snprintf(ref, sizeof(ref), "exact LRU %.4f (same %llu items)", h.lru_same_items,
                static_cast<unsigned long long>(h.l1_items));
  std::printf("%-46s %-22.4f %s\n", "hit ratio Zipf(0.99), 10% of 200k keys", h.l1, ref);
  std::snprintf(ref, sizeof(ref), "exact LRU %.4f (%llu items: same bytes, 0 overhead)",
                h.lru_same_bytes, static_cast<unsigned long long>(h.lru_bytes_items));
  std::printf("%-46s %-22s %s\n", "", "", ref);
  std::printf("%-46s %.3f (overhead run) / %.3f (Zipf run)\n", "share of evictions forced by index",
              o.index_eviction_share, h.index_eviction_share);
  std::printf("%-46s %-22.0f %s\n", "get ops/s, hit, with hash-slot generations", sl.get_ops,
              "(l2-mode cluster: one CRC16 more per lookup)");
  std::printf("%-46s %-22.0f %s\n", "set ops/s, with hash-slot generations", sl.set_ops, "");
  std::snprintf(ref, sizeof(ref), "dropped %.1f%% of the items", 100 * sl.dropped_share);
  std::printf("%-46s %-22.0f %s\n", "flush_slots of 5461 slots, us", sl.flush_us, ref);
  std::printf(
      "RESULT get_ops=%.0f hot_get_ops=%.0f miss_ops=%.0f set_ops=%.0f overhead=%.2f "
      "hit_l1=%.4f hit_lru_items=%.4f hit_lru_bytes=%.4f l1_items=%llu memory=%llu "
      "slot_get_ops=%.0f slot_set_ops=%.0f flush_third_us=%.0f\n",
      t.get_ops, t.hot_get_ops, t.miss_ops, t.set_ops, o.steady, h.l1, h.lru_same_items,
      h.lru_same_bytes, static_cast<unsigned long long>(h.l1_items),
      static_cast<unsigned long long>(h.memory), sl.get_ops, sl.set_ops, sl.flush_us);
  return 0;
}
