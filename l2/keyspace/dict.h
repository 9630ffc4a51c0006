// The keyspace hash table: chained buckets, power-of-two sizes, incremental rehashing between
// two tables (as Redis's dict), and a SCAN cursor that returns every key present for a whole
// iteration at least once, even across resizes (reverse-binary cursor increment).
#pragma once

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "l2/keyspace/entry.h"

namespace tiercache::l2 {

// Owns nothing but its bucket arrays: entries are allocated and freed by the caller (Keyspace),
// which also accounts their memory. Not thread-safe.
class Dict {
 public:
  explicit Dict(uint64_t seed) : seed_(seed) {}
  Dict(const Dict&) = delete;
  Dict& operator=(const Dict&) = delete;

  size_t size() const { return size_; }
  // Bytes held by the bucket arrays.
  size_t table_bytes() const { return (t_[0].size() + t_[1].size()) * sizeof(Entry*); }
  size_t buckets() const { return t_[0].size() + t_[1].size(); }
  bool rehashing() const { return rehash_idx_ >= 0; }

  uint64_t hash(std::string_view key) const;

  Entry* find(std::string_view key) const { return find(key, hash(key)); }
  Entry* find(std::string_view key, uint64_t h) const;

  // Inserts an entry whose key is not present. May grow the table.
  void insert(Entry* e, uint64_t h);
  // Removes the entry with this key and returns it (nullptr if absent).
  Entry* unlink(std::string_view key, uint64_t h);
  // Replaces `old_e` (found by its key) with `new_e` (same key, e.g. after realloc).
  void replace(Entry* old_e, Entry* new_e, uint64_t h);

  // A random entry (nullptr when empty). Uniform over buckets, then over the chain.
  Entry* random_entry(std::mt19937_64& rng) const;

  // Calls emit(Entry*) for every entry in the bucket(s) the cursor names and returns the next
  // cursor (0 when the iteration is complete). emit must not insert or remove entries.
  template <class F>
  uint64_t scan(uint64_t cursor, F&& emit) const;

  // Moves up to n buckets from the old table to the new one. Returns true if more remain.
  bool rehash_step(int n);

  // Calls release(Entry*) for every entry, then empties the table.
  template <class F>
  void clear(F&& release);

  // Grows or shrinks when the load factor says so (called after inserts and removals).
  void maybe_resize();

 private:
  static uint64_t reverse_bits(uint64_t v) {
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
    return __builtin_bswap64(v);
  }
  void start_resize(size_t new_size);

  uint64_t seed_;
  std::vector<Entry*> t_[2];
  size_t size_ = 0;
  long rehash_idx_ = -1;  // next bucket of t_[0] to move, -1 when not rehashing
};

template <class F>
uint64_t Dict::scan(uint64_t v, F&& emit) const {
  if (size_ == 0 || t_[0].empty()) return 0;
  auto emit_chain = [&emit](Entry* e) {
    while (e != nullptr) {
      Entry* next = e->next;
      emit(e);
      e = next;
    }
  };
  if (!rehashing()) {
    uint64_t m0 = t_[0].size() - 1;
    emit_chain(t_[0][v & m0]);
    v |= ~m0;
    v = reverse_bits(v);
    ++v;
    v = reverse_bits(v);
  } else {
    const std::vector<Entry*>* small = &t_[0];
    const std::vector<Entry*>* large = &t_[1];
    if (small->size() > large->size()) std::swap(small, large);
    uint64_t m0 = small->size() - 1, m1 = large->size() - 1;
    emit_chain((*small)[v & m0]);
    do {
      emit_chain((*large)[v & m1]);
      v |= ~m1;
      v = reverse_bits(v);
      ++v;
      v = reverse_bits(v);
    } while (v & (m0 ^ m1));
  }
  return v;
}

template <class F>
void Dict::clear(F&& release) {
  for (auto& t : t_) {
    for (Entry*& head : t) {
      Entry* e = head;
      while (e != nullptr) {
        Entry* next = e->next;
        release(e);
        e = next;
      }
      head = nullptr;
    }
    t.clear();
    t.shrink_to_fit();
  }
  size_ = 0;
  rehash_idx_ = -1;
}

}  // namespace tiercache::l2
