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
// type is a ValueType (values.h). A string's value bytes are the string, right after the key;
// every other type's value bytes are one pointer to its value object (HashValue, ...), owned by
// the entry (the keyspace destroys it when it frees the entry), stored at the next 8-byte
// boundary after the key: an aligned pointer is one that LeakSanitizer and debuggers can see.
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
  std::string_view value() const { return {data() + value_offset(), val_len}; }
  char* value_data() { return data() + value_offset(); }
  bool has_expire() const { return expire_at != 0; }
  bool is_string() const { return type == 0; }
  // The value object of a non-string entry.
  template <class T>
  T* object() const {
    T* p;
    memcpy(&p, data() + value_offset(), sizeof p);
    return p;
  }
  // Where the value bytes start, from data().
  size_t value_offset() const { return value_offset(key_len, is_string()); }
  static size_t value_offset(size_t klen, bool string) {
    return string ? klen : ((kDataOffset + klen + 7) & ~size_t{7}) - kDataOffset;
  }

  static size_t alloc_size(size_t klen, size_t vlen, bool string = true) {
    return kDataOffset + value_offset(klen, string) + vlen;
  }
};
static_assert(offsetof(Entry, type) + sizeof(uint8_t) == Entry::kDataOffset);
static_assert(std::is_standard_layout_v<Entry>);

}  // namespace tiercache::l2
