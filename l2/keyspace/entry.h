// One key-value record of the L2 keyspace: a single allocation holding header, key and value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace tiercache::l2 {

//  +--------+-----------+---------+---------+--------+--------+------------+--------------+
//  | next 8 | expire 8  | klen 4  | vlen 4  | lru 4  | type 1 | key bytes  | value bytes  |
//  +--------+-----------+---------+---------+--------+--------+------------+--------------+
//  0        8           16        20        24       28       29
// type is a ValueType (values.h). A string's value bytes are the string; every other type's
// value bytes are one pointer to its value object (HashValue, ...), owned by the entry: the
// keyspace destroys it when it frees the entry.
// expire_at is unix time in ms, 0 for no expiry. lru is the access clock (ms since server start,
// wrapping; compared by unsigned difference). The value may have spare capacity behind it
// (malloc_usable_size), which APPEND uses to grow in place.
struct Entry {
  Entry* next;
  int64_t expire_at;
  uint32_t key_len;
  uint32_t val_len;
  uint32_t lru;
  uint8_t type;

  static constexpr size_t kDataOffset = 29;

  char* data() { return reinterpret_cast<char*>(this) + kDataOffset; }
  const char* data() const { return reinterpret_cast<const char*>(this) + kDataOffset; }
  std::string_view key() const { return {data(), key_len}; }
  std::string_view value() const { return {data() + key_len, val_len}; }
  char* value_data() { return data() + key_len; }
  bool has_expire() const { return expire_at != 0; }
  bool is_string() const { return type == 0; }
  // The value object of a non-string entry.
  template <class T>
  T* object() const {
    T* p;
    memcpy(&p, data() + key_len, sizeof p);
    return p;
  }

  static size_t alloc_size(size_t klen, size_t vlen) { return kDataOffset + klen + vlen; }
};
static_assert(offsetof(Entry, type) + sizeof(uint8_t) == Entry::kDataOffset);
static_assert(std::is_standard_layout_v<Entry>);

}  // namespace tiercache::l2
