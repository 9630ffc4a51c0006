// PackedBytes: the one growable byte buffer under the compact encodings (pack.h's small hashes
// and sorted sets, quicklist.h's list nodes). Allocated through mem:: (alloc.h) so used_memory
// counts it; grown with realloc to what is needed while under 512 bytes (as a listpack grows:
// slack there is paid by every small key), past that to an eighth more (not doubled as a
// string is: a compact value should hold little slack), rounded up to the end of glibc's chunk
// (requests of 24 + 16k bytes fill their chunk), so no byte malloc hands out is wasted and none
// beyond the request is used. Its capacity is the block's usable size (malloc_usable_size), not
// a field: with a 32-bit word its owner keeps in what would be padding (extra(): Pack's entry
// count) it is 16 bytes. Owns its block; copies are deep.
#pragma once

#include <malloc.h>

#include <cstdint>
#include <cstring>
#include <utility>

#include "l2/keyspace/alloc.h"

namespace tiercache::l2 {

class PackedBytes {
 public:
  PackedBytes() = default;
  PackedBytes(const PackedBytes& o) : size_(o.size_), extra_(o.extra_) {
    if (o.size_ == 0) return;
    buf_ = static_cast<char*>(mem::allocate(chunk_fit(o.size_)));
    memcpy(buf_, o.buf_, o.size_);
  }
  PackedBytes(PackedBytes&& o) noexcept
      : buf_(std::exchange(o.buf_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        extra_(std::exchange(o.extra_, 0)) {}
  PackedBytes& operator=(PackedBytes&& o) noexcept {
    if (this != &o) {
      mem::release(buf_);
      buf_ = std::exchange(o.buf_, nullptr);
      size_ = std::exchange(o.size_, 0);
      extra_ = std::exchange(o.extra_, 0);
    }
    return *this;
  }
  PackedBytes& operator=(const PackedBytes& o) {
    if (this != &o) *this = PackedBytes(o);
    return *this;
  }
  ~PackedBytes() { mem::release(buf_); }

  const char* data() const { return buf_; }
  char* data() { return buf_; }
  uint32_t size() const { return size_; }
  // The block's usable bytes (at least what was requested from malloc), 0 without one.
  uint32_t capacity() const {
    return buf_ != nullptr ? static_cast<uint32_t>(malloc_usable_size(buf_)) : 0;
  }
  // The owner's word (see above); copied and moved with the bytes.
  uint32_t extra() const { return extra_; }
  void set_extra(uint32_t v) { extra_ = v; }

  // Opens a gap of n bytes at off (what follows moves up); returns where it starts.
  char* open(uint32_t off, size_t n) {
    size_t need = size_ + n;
    // Exactly while small (see above), by an eighth more past kExactBelow.
    if (need > capacity())
      buf_ = static_cast<char*>(
          mem::reallocate(buf_, chunk_fit(need < kExactBelow ? need : need + need / 8)));
    memmove(buf_ + off + n, buf_ + off, size_ - off);
    size_ = static_cast<uint32_t>(need);
    return buf_ + off;
  }
  // Removes the bytes [from, to); a buffer drained to a quarter of its block gives memory back.
  void close(uint32_t from, uint32_t to) {
    memmove(buf_ + from, buf_ + to, size_ - to);
    size_ -= to - from;
    if (size_ == 0) return shrink();
    uint32_t cap = capacity();
    if (cap > 256 && size_ < cap / 4) shrink();
  }
  // Cuts the buffer at off (the bytes from off on are dropped).
  void truncate(uint32_t off) {
    size_ = off;
    shrink();
  }
  // Releases unused capacity (everything, when empty).
  void shrink() {
    if (size_ == 0) {
      mem::release(std::exchange(buf_, nullptr));
      return;
    }
    uint32_t fit = chunk_fit(size_);
    if (fit >= capacity()) return;
    buf_ = static_cast<char*>(mem::reallocate(buf_, fit));
  }
  void clear() {
    size_ = 0;
    shrink();
  }

 private:
  // The largest request that fits the same glibc chunk as n bytes (chunks are request + 8
  // rounded up to 16, at least 32).
  static constexpr size_t kExactBelow = 512;
  static uint32_t chunk_fit(size_t n) {
    size_t chunk = (n + 8 + 15) & ~size_t{15};
    return static_cast<uint32_t>((chunk < 32 ? 32 : chunk) - 8);
  }

  char* buf_ = nullptr;  // owned (mem::allocate / reallocate; released in the destructor)
  uint32_t size_ = 0;
  uint32_t extra_ = 0;
};
static_assert(sizeof(PackedBytes) == 16);

}  // namespace tiercache::l2
