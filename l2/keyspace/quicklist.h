// QuickList: the list value's elements, as Redis 7.0 keeps them (t_list.c over quicklist.c): a
// sequence of nodes, each one packed buffer of up to kNodeBytes (list-max-listpack-size -2,
// 8 KiB) holding its elements back to back. An element is
//     varint(len) | bytes | backlen(len)
// where backlen is the same length written to be read from its end, so both ends and both
// directions are walked without an index. Pushes and pops at either end touch one node; an
// element is found by walking node counts, then entries, from the nearer end. Every buffer is
// allocated through mem:: (alloc.h), so used_memory counts lists truthfully. The unit tests
// (tests/l2/quicklist_test.cc) compare every operation with a std::deque model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "l2/keyspace/alloc.h"
#include "l2/keyspace/packed_bytes.h"

namespace tiercache::l2 {

class ListNode {
 public:
  uint32_t count() const { return count_; }
  uint32_t bytes() const { return buf_.size(); }
  uint32_t capacity() const { return buf_.capacity(); }
  static size_t entry_size(size_t len);

  // The entry at byte offset off (< bytes()); *next gets the offset after it.
  std::string_view at(uint32_t off, uint32_t* next) const;
  // The offset of the entry that ends at off (> 0).
  uint32_t before(uint32_t off) const;
  // Offset of the i-th entry (walks from the nearer end).
  uint32_t offset_of(uint32_t i) const;

  void insert(uint32_t off, std::string_view s);
  // Removes n entries starting at off.
  void erase(uint32_t off, uint32_t n);
  // Moves the entries from off on into a new node (this keeps the first `first` entries).
  ListNode split(uint32_t off, uint32_t first);
  // Releases unused capacity (a node that is full for good).
  void shrink() { buf_.shrink(); }

 private:
  PackedBytes buf_;
  uint32_t count_ = 0;
};

class QuickList {
 public:
  static constexpr size_t kNodeBytes = 8192;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t node_count() const { return nodes_.size(); }
  // Bytes allocated by the nodes' buffers and the node array (MEMORY USAGE).
  size_t allocated_bytes() const;

  std::string_view front() const;
  std::string_view back() const;
  void push_front(std::string_view s);
  void push_back(std::string_view s);
  void pop_front();
  void pop_back();

  std::string_view at(size_t i) const;
  void set(size_t i, std::string_view s);
  // Inserts s before element i (i == size(): at the end).
  void insert(size_t i, std::string_view s);
  // Removes n elements from index i on.
  void erase(size_t i, size_t n);
  void clear();

  // Calls f(index, element) for the elements from index i on towards the tail (forward) or the
  // head, while f returns true.
  template <class F>
  void walk(size_t i, bool forward, F&& f) const;
  template <class F>
  void for_each(F&& f) const {
    walk(0, true, [&](size_t, std::string_view s) {
      f(s);
      return true;
    });
  }

 private:
  struct Position {
    size_t node;
    uint32_t off;
  };
  Position locate(size_t i) const;
  void drop_node_if_empty(size_t node);

  std::vector<ListNode, CountingAllocator<ListNode>> nodes_;
  size_t size_ = 0;
};

template <class F>
void QuickList::walk(size_t i, bool forward, F&& f) const {
  if (i >= size_) return;
  Position p = locate(i);
  size_t index = i;
  if (forward) {
    for (size_t n = p.node; n < nodes_.size(); ++n) {
      const ListNode& node = nodes_[n];
      uint32_t off = n == p.node ? p.off : 0;
      while (off < node.bytes()) {
        uint32_t next;
        if (!f(index++, node.at(off, &next))) return;
        off = next;
      }
    }
    return;
  }
  for (size_t n = p.node + 1; n-- > 0;) {
    const ListNode& node = nodes_[n];
    uint32_t end;
    uint32_t off = n == p.node ? p.off : node.before(node.bytes());
    for (;;) {
      if (!f(index, node.at(off, &end))) return;
      if (index-- == 0 || off == 0) break;
      off = node.before(off);
    }
  }
}

}  // namespace tiercache::l2
