// QuickList and its nodes (quicklist.h): the entry encoding (the varint prefix is pack.h's,
// plus a backward length), node growth, and the list operations over nodes.
#include "l2/keyspace/quicklist.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "l2/keyspace/pack.h"

namespace tiercache::l2 {
namespace {

// Backward: the same bytes in reverse order, so the last byte holds the low 7 bits and its high
// bit says "more precedes".
void put_backlen(char* out, size_t len) {
  size_t n = varint_size(len);
  for (size_t i = 0; i < n; ++i) {
    auto b = static_cast<uint8_t>(len & 0x7f);
    len >>= 7;
    if (len) b |= 0x80;
    out[n - 1 - i] = static_cast<char>(b);
  }
}

}  // namespace

size_t ListNode::entry_size(size_t len) { return len + 2 * varint_size(len); }

std::string_view ListNode::at(uint32_t off, uint32_t* next) const {
  uint64_t len = 0;
  size_t p = off + read_varint(buf_.data() + off, &len);
  *next = static_cast<uint32_t>(p + len + varint_size(len));
  return {buf_.data() + p, static_cast<size_t>(len)};
}

uint32_t ListNode::before(uint32_t off) const {
  size_t len = 0;
  int shift = 0;
  uint32_t p = off;
  for (;;) {
    auto b = static_cast<uint8_t>(buf_.data()[--p]);
    len |= static_cast<size_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
    shift += 7;
  }
  return static_cast<uint32_t>(off - entry_size(len));
}

uint32_t ListNode::offset_of(uint32_t i) const {
  uint32_t off = 0;
  if (i <= count_ / 2) {
    for (uint32_t k = 0; k < i; ++k) at(off, &off);
    return off;
  }
  off = bytes();
  for (uint32_t k = count_; k > i; --k) off = before(off);
  return off;
}

void ListNode::insert(uint32_t off, std::string_view s) {
  char* p = buf_.open(off, entry_size(s.size()));
  p += write_varint(p, s.size());
  if (!s.empty()) memcpy(p, s.data(), s.size());
  put_backlen(p + s.size(), s.size());
  ++count_;
}

void ListNode::erase(uint32_t off, uint32_t n) {
  uint32_t stop = off;
  for (uint32_t k = 0; k < n; ++k) at(stop, &stop);
  buf_.close(off, stop);
  count_ -= n;
}

ListNode ListNode::split(uint32_t off, uint32_t first) {
  ListNode tail;
  if (off < bytes()) {
    memcpy(tail.buf_.open(0, bytes() - off), buf_.data() + off, bytes() - off);
    tail.count_ = count_ - first;
  }
  buf_.truncate(off);
  count_ = first;
  return tail;
}

size_t QuickList::allocated_bytes() const {
  size_t total = nodes_.capacity() ? nodes_.capacity() * sizeof(ListNode) + sizeof(size_t) : 0;
  for (const ListNode& n : nodes_)
    if (n.capacity() != 0) total += n.capacity() + sizeof(size_t);
  return total;
}

QuickList::Position QuickList::locate(size_t i) const {
  if (i < size_ / 2) {
    size_t n = 0;
    while (i >= nodes_[n].count()) i -= nodes_[n++].count();
    return {n, nodes_[n].offset_of(static_cast<uint32_t>(i))};
  }
  size_t from_end = size_ - i;  // >= 1
  size_t n = nodes_.size() - 1;
  while (from_end > nodes_[n].count()) from_end -= nodes_[n--].count();
  return {n, nodes_[n].offset_of(static_cast<uint32_t>(nodes_[n].count() - from_end))};
}

std::string_view QuickList::front() const {
  uint32_t next;
  return nodes_.front().at(0, &next);
}

std::string_view QuickList::back() const {
  const ListNode& n = nodes_.back();
  uint32_t next;
  return n.at(n.before(n.bytes()), &next);
}

void QuickList::push_front(std::string_view s) {
  size_t es = ListNode::entry_size(s.size());
  if (nodes_.empty() || (nodes_.front().count() > 0 && nodes_.front().bytes() + es > kNodeBytes)) {
    if (!nodes_.empty()) nodes_.front().shrink();  // full for good at this end
    nodes_.emplace(nodes_.begin());
  }
  nodes_.front().insert(0, s);
  ++size_;
}

void QuickList::push_back(std::string_view s) {
  size_t es = ListNode::entry_size(s.size());
  if (nodes_.empty() || (nodes_.back().count() > 0 && nodes_.back().bytes() + es > kNodeBytes)) {
    if (!nodes_.empty()) nodes_.back().shrink();
    nodes_.emplace_back();
  }
  nodes_.back().insert(nodes_.back().bytes(), s);
  ++size_;
}

void QuickList::drop_node_if_empty(size_t node) {
  if (nodes_[node].count() != 0) return;
  nodes_.erase(nodes_.begin() + static_cast<long>(node));
  if (nodes_.empty()) {
    nodes_.clear();
    nodes_.shrink_to_fit();
  }
}

void QuickList::pop_front() {
  nodes_.front().erase(0, 1);
  --size_;
  drop_node_if_empty(0);
}

void QuickList::pop_back() {
  ListNode& n = nodes_.back();
  n.erase(n.before(n.bytes()), 1);
  --size_;
  drop_node_if_empty(nodes_.size() - 1);
}

std::string_view QuickList::at(size_t i) const {
  Position p = locate(i);
  uint32_t next;
  return nodes_[p.node].at(p.off, &next);
}

void QuickList::set(size_t i, std::string_view s) {
  // s may point into the list itself (no caller does that today, but be safe): copy first.
  Str copy = make_str(s);
  erase(i, 1);
  insert(i, copy);
}

void QuickList::insert(size_t i, std::string_view s) {
  if (i >= size_) return push_back(s);
  if (i == 0) return push_front(s);
  Position p = locate(i);
  ListNode& node = nodes_[p.node];
  size_t es = ListNode::entry_size(s.size());
  if (node.bytes() + es <= kNodeBytes) {
    node.insert(p.off, s);
    ++size_;
    return;
  }
  if (p.off == 0) {
    // s goes between two nodes: the end of the previous one if it has room, else a node of its
    // own (never an empty node left behind).
    if (p.node > 0 && nodes_[p.node - 1].bytes() + es <= kNodeBytes) {
      ListNode& prev = nodes_[p.node - 1];
      prev.insert(prev.bytes(), s);
    } else {
      nodes_.emplace(nodes_.begin() + static_cast<long>(p.node));
      nodes_[p.node].insert(0, s);
    }
    ++size_;
    return;
  }
  // Full, s goes inside: split the node there (both halves keep entries); s ends the first
  // half if it fits there, else starts the second, else gets a node between them.
  uint32_t first = 0;
  for (uint32_t off = 0, next; off < p.off; off = next, ++first) node.at(off, &next);
  ListNode tail = node.split(p.off, first);
  size_t at = p.node + 1;
  nodes_.insert(nodes_.begin() + static_cast<long>(at), std::move(tail));
  ListNode& head = nodes_[p.node];
  if (head.bytes() + es <= kNodeBytes) {
    head.insert(head.bytes(), s);
  } else if (nodes_[at].bytes() + es <= kNodeBytes) {
    nodes_[at].insert(0, s);
  } else {
    nodes_.emplace(nodes_.begin() + static_cast<long>(at));
    nodes_[at].insert(0, s);
  }
  ++size_;
}

void QuickList::erase(size_t i, size_t n) {
  if (i >= size_ || n == 0) return;
  if (n > size_ - i) n = size_ - i;
  Position p = locate(i);
  size_t node = p.node;
  uint32_t off = p.off;
  size_ -= n;
  while (n > 0) {
    ListNode& nd = nodes_[node];
    uint32_t left = nd.count();  // entries from off to the node's end
    if (off != 0) {
      left = 0;
      for (uint32_t o = off, next; o < nd.bytes(); o = next) {
        nd.at(o, &next);
        ++left;
      }
    }
    auto m = static_cast<uint32_t>(std::min<size_t>(n, left));
    nd.erase(off, m);
    n -= m;
    if (nd.count() == 0) {
      nodes_.erase(nodes_.begin() + static_cast<long>(node));
    } else {
      ++node;
    }
    off = 0;
  }
  if (nodes_.empty()) nodes_.shrink_to_fit();
}

void QuickList::clear() {
  nodes_.clear();
  nodes_.shrink_to_fit();
  size_ = 0;
}

}  // namespace tiercache::l2
