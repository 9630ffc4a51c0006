// SortedIndex (sorted_index.h): descent by the first entry below each child, leaves split in
// half (or, when an entry is appended at the very end of the tree, a new leaf begun, so a set
// filled in order packs its leaves full), and a node below a quarter full merged with its
// neighbour, or evened out with it when both would not fit one node.
#include "l2/keyspace/sorted_index.h"

#include <malloc.h>

#include <cstring>
#include <new>

namespace tiercache::l2 {
namespace {

using Entry = SortedIndex::Entry;

// a < (score, member)
bool before(const Entry& a, double score, std::string_view member) {
  return a.score < score || (a.score == score && a.key() < member);
}
// a <= (score, member)
bool before_or_at(const Entry& a, double score, std::string_view member) {
  return a.score < score || (a.score == score && a.key() <= member);
}

// The number of leading entries of e[0, n) for which p holds (p holds for a prefix).
template <class P>
size_t prefix(const Entry* e, size_t n, P&& p) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (p(e[mid]))
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

}  // namespace

template <class T>
T* SortedIndex::make() {
  void* p = mem::allocate(sizeof(T));
  bytes_ += malloc_usable_size(p) + sizeof(size_t);
  return new (p) T;
}

template <class T>
void SortedIndex::drop(T* p) {
  bytes_ -= malloc_usable_size(p) + sizeof(size_t);
  p->~T();
  mem::release(p);
}

namespace {
// The node types are private; these reach them through the index's own casts.
template <class Leaf, class Inner>
const Entry& first_of(const void* node, int height) {
  return height == 0 ? static_cast<const Leaf*>(node)->e[0]
                     : static_cast<const Inner*>(node)->first[0];
}
}  // namespace

void SortedIndex::insert(double score, const Member* m) {
  Entry e{score, m};
  if (root_ == nullptr) {
    root_ = make<Leaf>();
    height_ = 0;
  }
  Split s = insert_at(root_, height_, e, true);
  ++size_;
  if (s.node == nullptr) return;
  auto* r = make<Inner>();
  r->n = 2;
  r->child[0] = root_;
  r->count[0] = size_ - s.count;
  r->first[0] = first_of<Leaf, Inner>(root_, height_);
  r->child[1] = s.node;
  r->count[1] = s.count;
  r->first[1] = first_of<Leaf, Inner>(s.node, height_);
  root_ = r;
  ++height_;
}

SortedIndex::Split SortedIndex::insert_at(void* node, int height, const Entry& e, bool rightmost) {
  auto lt = [&e](const Entry& a) { return before(a, e.score, e.key()); };
  if (height == 0) {
    auto* leaf = static_cast<Leaf*>(node);
    size_t pos = prefix(leaf->e, leaf->n, lt);
    Leaf* into = leaf;
    Split s;
    if (leaf->n == kLeafCap) {
      auto* right = make<Leaf>();
      right->next = leaf->next;
      leaf->next = right;
      s = Split{right, 0};
      if (rightmost && pos == leaf->n) {
        into = right;
        pos = 0;
      } else {
        size_t keep = kLeafCap / 2;
        memcpy(right->e, leaf->e + keep, (kLeafCap - keep) * sizeof(Entry));
        right->n = kLeafCap - keep;
        leaf->n = keep;
        if (pos > keep) {
          into = right;
          pos -= keep;
        }
      }
    }
    memmove(into->e + pos + 1, into->e + pos, (into->n - pos) * sizeof(Entry));
    into->e[pos] = e;
    ++into->n;
    if (s.node != nullptr) s.count = static_cast<Leaf*>(s.node)->n;
    return s;
  }

  auto* in = static_cast<Inner*>(node);
  size_t k = prefix(in->first, in->n, lt);
  size_t i = k == 0 ? 0 : k - 1;
  bool last = i + 1 == in->n;
  Split below = insert_at(in->child[i], height - 1, e, rightmost && last);
  in->count[i] = in->count[i] + 1 - below.count;
  in->first[i] = first_of<Leaf, Inner>(in->child[i], height - 1);
  if (below.node == nullptr) return {};

  // The new child goes right after child i; a full node splits first.
  Inner* into = in;
  size_t at = i + 1;
  Split s;
  if (in->n == kInnerCap) {
    auto* right = make<Inner>();
    size_t keep = rightmost && last ? kInnerCap : kInnerCap / 2;
    size_t moved = kInnerCap - keep;
    memcpy(right->count, in->count + keep, moved * sizeof(size_t));
    memcpy(right->child, in->child + keep, moved * sizeof(void*));
    memcpy(right->first, in->first + keep, moved * sizeof(Entry));
    right->n = static_cast<uint32_t>(moved);
    in->n = static_cast<uint32_t>(keep);
    s.node = right;
    if (at > keep || keep == kInnerCap) {
      into = right;
      at -= keep;
    }
  }
  size_t tail = into->n - at;
  memmove(into->count + at + 1, into->count + at, tail * sizeof(size_t));
  memmove(into->child + at + 1, into->child + at, tail * sizeof(void*));
  memmove(into->first + at + 1, into->first + at, tail * sizeof(Entry));
  into->count[at] = below.count;
  into->child[at] = below.node;
  into->first[at] = first_of<Leaf, Inner>(below.node, height - 1);
  ++into->n;
  if (s.node != nullptr) {
    auto* right = static_cast<Inner*>(s.node);
    for (size_t j = 0; j < right->n; ++j) s.count += right->count[j];
  }
  return s;
}

bool SortedIndex::erase(double score, std::string_view member) {
  if (root_ == nullptr || !erase_at(root_, height_, score, member)) return false;
  --size_;
  while (height_ > 0 && static_cast<Inner*>(root_)->n == 1) {
    auto* r = static_cast<Inner*>(root_);
    root_ = r->child[0];
    drop(r);
    --height_;
  }
  if (height_ == 0 && static_cast<Leaf*>(root_)->n == 0) {
    drop(static_cast<Leaf*>(root_));
    root_ = nullptr;
  }
  return true;
}

bool SortedIndex::erase_at(void* node, int height, double score, std::string_view member) {
  if (height == 0) {
    auto* leaf = static_cast<Leaf*>(node);
    size_t pos = prefix(leaf->e, leaf->n, [&](const Entry& a) { return before(a, score, member); });
    if (pos == leaf->n || leaf->e[pos].score != score || leaf->e[pos].key() != member) return false;
    memmove(leaf->e + pos, leaf->e + pos + 1, (leaf->n - pos - 1) * sizeof(Entry));
    --leaf->n;
    return true;
  }
  auto* in = static_cast<Inner*>(node);
  // The child whose first entry is the last at or before the target holds it, if anyone does.
  size_t k =
      prefix(in->first, in->n, [&](const Entry& a) { return before_or_at(a, score, member); });
  if (k == 0) return false;
  size_t i = k - 1;
  if (!erase_at(in->child[i], height - 1, score, member)) return false;
  --in->count[i];
  rebalance(in, height - 1, i);
  return true;
}

void SortedIndex::rebalance(Inner* in, int child_height, size_t i) {
  bool leaves = child_height == 0;
  auto size_of = [&](size_t j) -> size_t {
    return leaves ? static_cast<Leaf*>(in->child[j])->n : static_cast<Inner*>(in->child[j])->n;
  };
  size_t n_i = size_of(i);
  if (n_i > 0) in->first[i] = first_of<Leaf, Inner>(in->child[i], child_height);
  size_t cap = leaves ? kLeafCap : kInnerCap;
  if (n_i >= cap / 4 || in->n < 2) return;

  size_t a = i + 1 < in->n ? i : i - 1;
  size_t b = a + 1;
  size_t na = size_of(a), nb = size_of(b);
  if (na + nb <= cap) {  // b joins a
    if (leaves) {
      auto* A = static_cast<Leaf*>(in->child[a]);
      auto* B = static_cast<Leaf*>(in->child[b]);
      memcpy(A->e + na, B->e, nb * sizeof(Entry));
      A->n += static_cast<uint32_t>(nb);
      A->next = B->next;
      drop(B);
    } else {
      auto* A = static_cast<Inner*>(in->child[a]);
      auto* B = static_cast<Inner*>(in->child[b]);
      memcpy(A->count + na, B->count, nb * sizeof(size_t));
      memcpy(A->child + na, B->child, nb * sizeof(void*));
      memcpy(A->first + na, B->first, nb * sizeof(Entry));
      A->n += static_cast<uint32_t>(nb);
      drop(B);
    }
    in->count[a] += in->count[b];
    size_t tail = in->n - b - 1;
    memmove(in->count + b, in->count + b + 1, tail * sizeof(size_t));
    memmove(in->child + b, in->child + b + 1, tail * sizeof(void*));
    memmove(in->first + b, in->first + b + 1, tail * sizeof(Entry));
    --in->n;
    in->first[a] = first_of<Leaf, Inner>(in->child[a], child_height);
    return;
  }

  // Even them out: a keeps half (rounded down), b the rest.
  size_t want = (na + nb) / 2;
  if (leaves) {
    auto* A = static_cast<Leaf*>(in->child[a]);
    auto* B = static_cast<Leaf*>(in->child[b]);
    if (na < want) {
      size_t m = want - na;
      memcpy(A->e + na, B->e, m * sizeof(Entry));
      memmove(B->e, B->e + m, (nb - m) * sizeof(Entry));
    } else {
      size_t m = na - want;
      memmove(B->e + m, B->e, nb * sizeof(Entry));
      memcpy(B->e, A->e + want, m * sizeof(Entry));
    }
    A->n = static_cast<uint32_t>(want);
    B->n = static_cast<uint32_t>(na + nb - want);
    in->count[a] = A->n;
    in->count[b] = B->n;
  } else {
    auto* A = static_cast<Inner*>(in->child[a]);
    auto* B = static_cast<Inner*>(in->child[b]);
    size_t total = in->count[a] + in->count[b];
    if (na < want) {
      size_t m = want - na;
      memcpy(A->count + na, B->count, m * sizeof(size_t));
      memcpy(A->child + na, B->child, m * sizeof(void*));
      memcpy(A->first + na, B->first, m * sizeof(Entry));
      memmove(B->count, B->count + m, (nb - m) * sizeof(size_t));
      memmove(B->child, B->child + m, (nb - m) * sizeof(void*));
      memmove(B->first, B->first + m, (nb - m) * sizeof(Entry));
    } else {
      size_t m = na - want;
      memmove(B->count + m, B->count, nb * sizeof(size_t));
      memmove(B->child + m, B->child, nb * sizeof(void*));
      memmove(B->first + m, B->first, nb * sizeof(Entry));
      memcpy(B->count, A->count + want, m * sizeof(size_t));
      memcpy(B->child, A->child + want, m * sizeof(void*));
      memcpy(B->first, A->first + want, m * sizeof(Entry));
    }
    A->n = static_cast<uint32_t>(want);
    B->n = static_cast<uint32_t>(na + nb - want);
    size_t below_a = 0;
    for (size_t j = 0; j < A->n; ++j) below_a += A->count[j];
    in->count[a] = below_a;
    in->count[b] = total - below_a;
  }
  in->first[a] = first_of<Leaf, Inner>(in->child[a], child_height);
  in->first[b] = first_of<Leaf, Inner>(in->child[b], child_height);
}

size_t SortedIndex::count_before(double score, std::string_view member, bool inclusive) const {
  auto p = [&](const Entry& a) {
    return inclusive ? before_or_at(a, score, member) : before(a, score, member);
  };
  if (root_ == nullptr) return 0;
  size_t r = 0;
  const void* node = root_;
  for (int h = height_; h > 0; --h) {
    const auto* in = static_cast<const Inner*>(node);
    size_t k = prefix(in->first, in->n, p);
    size_t i = k == 0 ? 0 : k - 1;
    for (size_t j = 0; j < i; ++j) r += in->count[j];
    node = in->child[i];
  }
  const auto* leaf = static_cast<const Leaf*>(node);
  return r + prefix(leaf->e, leaf->n, p);
}

const SortedIndex::Leaf* SortedIndex::find_rank(size_t i, size_t* pos) const {
  const void* node = root_;
  for (int h = height_; h > 0; --h) {
    const auto* in = static_cast<const Inner*>(node);
    size_t j = 0;
    while (i >= in->count[j]) i -= in->count[j++];
    node = in->child[j];
  }
  *pos = i;
  return static_cast<const Leaf*>(node);
}

const SortedIndex::Entry& SortedIndex::at(size_t i) const {
  size_t pos;
  return find_rank(i, &pos)->e[pos];
}

void SortedIndex::free_subtree(void* node, int height) {
  if (height == 0) return drop(static_cast<Leaf*>(node));
  auto* in = static_cast<Inner*>(node);
  for (size_t j = 0; j < in->n; ++j) free_subtree(in->child[j], height - 1);
  drop(in);
}

void SortedIndex::clear() {
  if (root_ != nullptr) free_subtree(root_, height_);
  root_ = nullptr;
  height_ = 0;
  size_ = 0;
}

}  // namespace tiercache::l2
