// The hash table of the large encodings (hash "hashtable", set "hashtable", sorted set's member
// index): chained buckets, power-of-two sizes, and the reverse-binary SCAN cursor of Redis's
// dictScan, so HSCAN/SSCAN/ZSCAN walk a big collection in small steps and still return every
// element present from the start to the end of the walk at least once, however the table grows
// or shrinks between steps. (std::unordered_map cannot: its prime bucket counts reshuffle
// every element on a resize.) Resizes happen at once, not incrementally: a value is one key's.
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "l2/keyspace/alloc.h"

namespace tiercache::l2 {

// The value type of a table that is a set.
struct NoValue {};

// One hash seed per process, random as Redis's siphash key, so no client can choose members
// that all land in one bucket.
inline const uint64_t g_scan_table_seed = (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();

// Owns its nodes; they never move, so a node's key (its bytes follow the node in the same
// allocation: one block per element, as Redis's dictEntry plus an embedded key) may be pointed
// at (the sorted set's tree does) until the node is erased. Every byte is counted (alloc.h).
// Not thread-safe. Callers must not insert or erase while a for_each/scan callback runs.
template <class V>
class ScanTable {
 public:
  struct Node {
    Node* next;
    uint64_t hash;
    [[no_unique_address]] V value;
    uint32_t key_size;
    std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_size}; }
  };

  ScanTable() = default;
  ScanTable(const ScanTable& other) {
    reserve(other.size_);
    other.for_each([this](const Node& n) { insert(n.key(), n.value); });
  }
  ScanTable& operator=(const ScanTable&) = delete;
  ~ScanTable() { clear(); }

  size_t size() const { return size_; }
  size_t bucket_count() const { return buckets_.size(); }
  // The chain of bucket b (b < bucket_count()).
  const Node* bucket(size_t b) const { return buckets_[b]; }

  static uint64_t hash(std::string_view k) { return XXH3_64bits_withSeed(k.data(), k.size(), g_scan_table_seed); }

  Node* find(std::string_view k) const {
    if (size_ == 0) return nullptr;
    uint64_t h = hash(k);
    for (Node* n = buckets_[h & (buckets_.size() - 1)]; n != nullptr; n = n->next)
      if (n->hash == h && n->key() == k) return n;
    return nullptr;
  }

  // Adds k (which must be absent) with v; may grow the table.
  Node* insert(std::string_view k, V v) {
    if (size_ + 1 > buckets_.size()) resize(buckets_.empty() ? 4 : buckets_.size() * 2);
    uint64_t h = hash(k);
    void* mem = mem::allocate(sizeof(Node) + k.size());
    Node* n = new (mem) Node{nullptr, h, std::move(v), static_cast<uint32_t>(k.size())};
    if (!k.empty()) memcpy(reinterpret_cast<char*>(n + 1), k.data(), k.size());
    link(n);
    ++size_;
    return n;
  }

  // Removes k; false when absent. May shrink the table.
  bool erase(std::string_view k) {
    if (size_ == 0) return false;
    uint64_t h = hash(k);
    for (Node** at = &buckets_[h & (buckets_.size() - 1)]; *at != nullptr; at = &(*at)->next) {
      Node* n = *at;
      if (n->hash != h || n->key() != k) continue;
      *at = n->next;
      destroy(n);
      --size_;
      // Below 1/10 full, as Redis's htNeedsResize: the smallest power of two holding size_.
      if (buckets_.size() > 4 && size_ * 10 < buckets_.size()) resize(fit(size_));
      return true;
    }
    return false;
  }

  // Makes room for n elements without further growth.
  void reserve(size_t n) {
    if (fit(n) > buckets_.size()) resize(fit(n));
  }

  void clear() {
    for (Node*& head : buckets_) {
      for (Node* n = head; n != nullptr;) {
        Node* next = n->next;
        destroy(n);
        n = next;
      }
      head = nullptr;
    }
    buckets_ = Buckets();
    size_ = 0;
  }

  // f(const Node&) for every node, in bucket order.
  template <class F>
  void for_each(F&& f) const {
    for (Node* head : buckets_)
      for (const Node* n = head; n != nullptr; n = n->next) f(*n);
  }

  // One step of a SCAN: emit(const Node&) for every node of the bucket the cursor names, then
  // the next cursor (0 when the walk is complete). The cursor's bits are the bucket index read
  // from the high bit down (reverse binary): a bucket of a table twice as large splits into two
  // buckets visited one after the other, a bucket of a table half as large holds exactly the
  // buckets not yet visited plus some visited ones (duplicates, which SCAN allows).
  template <class F>
  uint64_t scan(uint64_t v, F&& emit) const {
    if (size_ == 0) return 0;
    uint64_t mask = buckets_.size() - 1;
    for (const Node* n = buckets_[v & mask]; n != nullptr; n = n->next) emit(*n);
    v |= ~mask;
    v = reverse_bits(v);
    ++v;
    return reverse_bits(v);
  }

 private:
  using Buckets = std::vector<Node*, CountingAllocator<Node*>>;

  static uint64_t reverse_bits(uint64_t v) {
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
    return __builtin_bswap64(v);
  }
  // The smallest power of two >= max(n, 4).
  static size_t fit(size_t n) {
    size_t b = 4;
    while (b < n) b *= 2;
    return b;
  }
  static void destroy(Node* n) {
    n->~Node();
    mem::release(n);
  }
  void link(Node* n) {
    Node*& head = buckets_[n->hash & (buckets_.size() - 1)];
    n->next = head;
    head = n;
  }
  void resize(size_t nb) {
    Buckets old(nb, nullptr);
    old.swap(buckets_);
    for (Node* head : old) {
      for (Node* n = head; n != nullptr;) {
        Node* next = n->next;
        link(n);
        n = next;
      }
    }
  }

  Buckets buckets_;
  size_t size_ = 0;
};

}  // namespace tiercache::l2
