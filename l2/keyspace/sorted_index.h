// The ordered half of a large sorted set (Redis's "skiplist" encoding): its members in
// (score, member) order, as a B+-tree whose inner nodes count the entries below each child, so
// rank, the i-th entry, insert and erase are O(log n). An entry is 16 bytes (the score and a
// pointer to the member's node in the set's score table, which owns the member's bytes and never
// moves it), in leaves of 64: about 17 bytes per member when filled in order, where a
// red-black tree node took 80 and Redis's skiplist node about 48.
// Scores compare as doubles (-0 equals 0), then members bytewise, as Redis's zslInsert does.
// All memory goes through mem:: (alloc.h). Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "l2/keyspace/scan_table.h"

namespace tiercache::l2 {

class SortedIndex {
 public:
  using Member = ScanTable<double>::Node;
  struct Entry {
    double score;
    const Member* member;
    std::string_view key() const { return member->key(); }
  };

  SortedIndex() = default;
  SortedIndex(const SortedIndex&) = delete;
  SortedIndex& operator=(const SortedIndex&) = delete;
  ~SortedIndex() { clear(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Bytes of the tree's nodes as malloc hands them out (MEMORY USAGE).
  size_t allocated_bytes() const { return bytes_; }

  // Adds (score, m->key()), which must not be present.
  void insert(double score, const Member* m);
  // Removes the entry equal to (score, member); false when there is none.
  bool erase(double score, std::string_view member);
  // Number of entries ordered before (score, member); with inclusive, also the one equal to it.
  size_t count_before(double score, std::string_view member, bool inclusive) const;
  // The entry of rank i (i < size()).
  const Entry& at(size_t i) const;
  // f(const Entry&) for the entries of rank from..to inclusive (to < size()), in order.
  template <class F>
  void walk(size_t from, size_t to, F&& f) const {
    if (from > to || to >= size_) return;
    size_t pos;
    const Leaf* leaf = find_rank(from, &pos);
    for (size_t left = to - from + 1; left > 0; leaf = leaf->next, pos = 0) {
      for (; pos < leaf->n && left > 0; ++pos, --left) f(leaf->e[pos]);
    }
  }
  void clear();

 private:
  static constexpr size_t kLeafCap = 64;
  static constexpr size_t kInnerCap = 32;
  struct Leaf {
    uint32_t n = 0;
    Leaf* next = nullptr;
    Entry e[kLeafCap];
  };
  struct Inner {
    uint32_t n = 0;
    size_t count[kInnerCap];  // entries below child i
    void* child[kInnerCap];   // Inner* above height 1, Leaf* at height 1
    Entry first[kInnerCap];   // the first entry below child i
  };
  // What an insert or erase below a node tells its parent.
  struct Split {
    void* node = nullptr;  // the new right sibling, or null
    size_t count = 0;      // its entries
  };

  const Leaf* find_rank(size_t i, size_t* pos) const;
  Split insert_at(void* node, int height, const Entry& e, bool rightmost);
  bool erase_at(void* node, int height, double score, std::string_view member);
  void rebalance(Inner* parent, int child_height, size_t i);
  template <class T>
  T* make();
  template <class T>
  void drop(T* p);
  void free_subtree(void* node, int height);

  void* root_ = nullptr;  // a Leaf at height 0, else an Inner
  int height_ = 0;
  size_t size_ = 0;
  size_t bytes_ = 0;
};

}  // namespace tiercache::l2
