// Pack: the compact encoding of small collections (Redis's listpack, in spirit): one counted
// buffer of entries, each a varint length followed by its bytes. Small hashes keep field,value
// pairs in one; small sorted sets keep member,score pairs (score as its 8 raw bytes).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "l2/keyspace/alloc.h"
#include "l2/keyspace/packed_bytes.h"

namespace tiercache::l2 {

// The length prefix of an entry (here and in quicklist.h): 7 bits per byte, low bits first, the
// high bit set when more bytes follow.
inline size_t varint_size(uint64_t len) {
  size_t n = 1;
  while (len >= 0x80) {
    len >>= 7;
    ++n;
  }
  return n;
}
// Writes len at out; returns the bytes written.
inline size_t write_varint(char* out, uint64_t len) {
  size_t n = 0;
  do {
    auto b = static_cast<uint8_t>(len & 0x7f);
    len >>= 7;
    if (len) b |= 0x80;
    out[n++] = static_cast<char>(b);
  } while (len);
  return n;
}
// Reads the length at p into *len; returns the bytes it took.
inline size_t read_varint(const char* p, uint64_t* len) {
  uint64_t v = 0;
  int shift = 0;
  size_t n = 0;
  for (;;) {
    auto b = static_cast<uint8_t>(p[n++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
    shift += 7;
  }
  *len = v;
  return n;
}

class Pack {
 public:
  // Number of entries.
  size_t count() const { return buf_.extra(); }
  size_t bytes() const { return buf_.size(); }
  size_t capacity() const { return buf_.capacity(); }
  bool empty() const { return buf_.extra() == 0; }

  // Offsets name entries: 0 is the first, end() is past the last.
  size_t end() const { return buf_.size(); }
  // The entry at off; *next receives the offset of the following entry.
  std::string_view at(size_t off, size_t* next) const {
    uint64_t len = 0;
    size_t p = off + read_varint(buf_.data() + off, &len);
    *next = p + len;
    return {buf_.data() + p, static_cast<size_t>(len)};
  }
  size_t skip(size_t off) const {
    size_t next;
    at(off, &next);
    return next;
  }

  void insert(size_t off, std::string_view s) {
    char hdr[10];
    size_t n = write_varint(hdr, s.size());
    char* p = buf_.open(static_cast<uint32_t>(off), n + s.size());
    memcpy(p, hdr, n);
    if (!s.empty()) memcpy(p + n, s.data(), s.size());
    buf_.set_extra(buf_.extra() + 1);
  }
  void push_back(std::string_view s) { insert(end(), s); }
  // Removes `n` entries starting at off.
  void erase(size_t off, size_t n) {
    size_t stop = off;
    for (size_t i = 0; i < n; ++i) stop = skip(stop);
    buf_.close(static_cast<uint32_t>(off), static_cast<uint32_t>(stop));
    buf_.set_extra(buf_.extra() - static_cast<uint32_t>(n));
  }
  void replace(size_t off, std::string_view s) {
    erase(off, 1);
    insert(off, s);
  }
  void clear() {
    buf_.clear();
    buf_.set_extra(0);
  }

 private:
  PackedBytes buf_;  // its extra word is the entry count
};
static_assert(sizeof(Pack) == 16);

}  // namespace tiercache::l2
