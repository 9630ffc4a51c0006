// Keyspace hash table (see dict.h).
#include "l2/keyspace/dict.h"

#include <xxhash.h>

#include <cstdio>

namespace tiercache::l2 {

uint64_t Dict::hash(std::string_view key) const {
  return XXH3_64bits_withSeed(key.data(), key.size(), seed_);
}

Entry* Dict::find(std::string_view key, uint64_t h) const {
  if (size_ == 0) return nullptr;
  for (int t = 0; t < 2; ++t) {
    const auto& tab = t_[t];
    if (tab.empty()) break;
    size_t idx = h & (tab.size() - 1);
    if (t == 0 && rehashing() && static_cast<long>(idx) < rehash_idx_) continue;  // moved
    for (Entry* e = tab[idx]; e != nullptr; e = e->next) {
      if (e->key_len == key.size() && memcmp(e->data(), key.data(), key.size()) == 0) return e;
    }
    if (!rehashing()) break;
  }
  return nullptr;
}

void Dict::insert(Entry* e, uint64_t h) {
  if (rehashing()) rehash_step(1);
  if (t_[0].empty()) t_[0].assign(4, nullptr);
  auto& tab = rehashing() ? t_[1] : t_[0];
  size_t idx = h & (tab.size() - 1);
  e->next = tab[idx];
  tab[idx] = e;
  ++size_;
  maybe_resize();
}

Entry* Dict::unlink(std::string_view key, uint64_t h) {
  if (size_ == 0) return nullptr;
  if (rehashing()) rehash_step(1);
  for (int t = 0; t < 2; ++t) {
    auto& tab = t_[t];
    if (tab.empty()) break;
    size_t idx = h & (tab.size() - 1);
    if (t == 0 && rehashing() && static_cast<long>(idx) < rehash_idx_) continue;
    Entry** link = &tab[idx];
    for (Entry* e = *link; e != nullptr; link = &e->next, e = e->next) {
      if (e->key_len == key.size() && memcmp(e->data(), key.data(), key.size()) == 0) {
        *link = e->next;
        --size_;
        maybe_resize();
        return e;
      }
    }
    if (!rehashing()) break;
  }
  return nullptr;
}

void Dict::replace(Entry* old_e, Entry* new_e, uint64_t h) {
  for (int t = 0; t < 2; ++t) {
    auto& tab = t_[t];
    if (tab.empty()) break;
    size_t idx = h & (tab.size() - 1);
    for (Entry** link = &tab[idx]; *link != nullptr; link = &(*link)->next) {
      if (*link == old_e) {
        new_e->next = old_e->next;
        *link = new_e;
        return;
      }
    }
  }
  fprintf(stderr, "tiercache-l2: Dict::replace: entry not found (broken invariant)\n");
  abort();
}

Entry* Dict::random_entry(std::mt19937_64& rng) const {
  if (size_ == 0) return nullptr;
  // Pick non-empty buckets at random; the bound keeps a sparse table from looping long.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const std::vector<Entry*>* tab = &t_[0];
    size_t idx;
    if (rehashing()) {
      size_t total = t_[0].size() + t_[1].size();
      size_t r = rng() % total;
      if (r < t_[0].size()) {
        if (static_cast<long>(r) < rehash_idx_) continue;
        idx = r;
      } else {
        tab = &t_[1];
        idx = r - t_[0].size();
      }
    } else {
      idx = rng() & (t_[0].size() - 1);
    }
    Entry* head = (*tab)[idx];
    if (head == nullptr) continue;
    size_t len = 0;
    for (Entry* e = head; e; e = e->next) ++len;
    size_t pick = rng() % len;
    Entry* e = head;
    while (pick--) e = e->next;
    return e;
  }
  // Fall back to a linear walk (very sparse table).
  for (const auto& tab : t_)
    for (Entry* head : tab)
      if (head) return head;
  return nullptr;
}

void Dict::start_resize(size_t new_size) {
  if (rehashing()) return;
  t_[1].assign(new_size, nullptr);
  rehash_idx_ = 0;
}

void Dict::maybe_resize() {
  if (rehashing() || t_[0].empty()) return;
  size_t n = t_[0].size();
  if (size_ >= n) {
    size_t target = n;
    while (target <= size_) target *= 2;
    start_resize(target);
  } else if (n > 4 && size_ < n / 8) {
    size_t target = 4;
    while (target < size_ * 2) target *= 2;
    if (target < n) start_resize(target);
  }
}

bool Dict::rehash_step(int n) {
  if (!rehashing()) return false;
  int empty_visits = n * 10;
  auto& from = t_[0];
  auto& to = t_[1];
  const size_t mask = to.size() - 1;
  while (n-- > 0 && static_cast<size_t>(rehash_idx_) < from.size()) {
    while (from[rehash_idx_] == nullptr) {
      ++rehash_idx_;
      if (static_cast<size_t>(rehash_idx_) >= from.size()) break;
      if (--empty_visits == 0) return true;
    }
    if (static_cast<size_t>(rehash_idx_) >= from.size()) break;
    Entry* e = from[rehash_idx_];
    while (e != nullptr) {
      Entry* next = e->next;
      size_t idx = hash(e->key()) & mask;
      e->next = to[idx];
      to[idx] = e;
      e = next;
    }
    from[rehash_idx_] = nullptr;
    ++rehash_idx_;
  }
  if (static_cast<size_t>(rehash_idx_) >= from.size()) {
    t_[0].swap(t_[1]);
    t_[1].clear();
    t_[1].shrink_to_fit();
    rehash_idx_ = -1;
    maybe_resize();
    return false;
  }
  return true;
}

}  // namespace tiercache::l2
