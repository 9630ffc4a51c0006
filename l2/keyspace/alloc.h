// The allocator every typed value (hash, list, set, sorted set) allocates through: it counts the
// bytes the allocator really hands out (malloc_usable_size plus the chunk header), so used_memory
// and maxmemory see collections as truthfully as string entries.
#pragma once

#include <malloc.h>

#include <cstddef>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <string_view>

namespace tiercache::l2 {

namespace mem {
// Bytes held by typed values. One counter per process: the server's single event-loop thread
// owns the only keyspace (unit tests compare deltas).
inline size_t g_value_bytes = 0;

inline void* allocate(size_t n) {
  void* p = malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  g_value_bytes += malloc_usable_size(p) + sizeof(size_t);
  return p;
}
// Resizes a block from allocate() (realloc: often in place), counting the difference.
inline void* reallocate(void* p, size_t n) {
  size_t old = p != nullptr ? malloc_usable_size(p) + sizeof(size_t) : 0;
  void* q = realloc(p, n);  // n > 0: callers release empty blocks instead
  if (q == nullptr) throw std::bad_alloc();
  g_value_bytes += malloc_usable_size(q) + sizeof(size_t);
  g_value_bytes -= old;
  return q;
}
inline void release(void* p) {
  if (p == nullptr) return;
  g_value_bytes -= malloc_usable_size(p) + sizeof(size_t);
  free(p);
}
}  // namespace mem

template <class T>
struct CountingAllocator {
  using value_type = T;
  CountingAllocator() noexcept = default;
  template <class U>
  CountingAllocator(const CountingAllocator<U>&) noexcept {}
  template <class U>
  struct rebind {
    using other = CountingAllocator<U>;
  };
  T* allocate(size_t n) { return static_cast<T*>(mem::allocate(n * sizeof(T))); }
  void deallocate(T* p, size_t) noexcept { mem::release(p); }
  template <class U>
  bool operator==(const CountingAllocator<U>&) const noexcept {
    return true;
  }
};

// A counted byte string (members, fields, values, list elements).
using Str = std::basic_string<char, std::char_traits<char>, CountingAllocator<char>>;

inline Str make_str(std::string_view s) { return Str(s.data(), s.size()); }

// Transparent hashing so the unordered containers are searched by string_view without a copy.
struct SvHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
struct SvEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

// Creates a counted T (the value objects themselves).
template <class T, class... A>
T* counted_new(A&&... a) {
  return new (mem::allocate(sizeof(T))) T(std::forward<A>(a)...);
}
template <class T>
void counted_delete(T* p) {
  if (p == nullptr) return;
  p->~T();
  mem::release(p);
}

// Owner of a counted T (counted_new), as a unique_ptr.
template <class T>
struct CountedDelete {
  void operator()(T* p) const { counted_delete(p); }
};
template <class T>
using CountedPtr = std::unique_ptr<T, CountedDelete<T>>;
template <class T, class... A>
CountedPtr<T> make_counted(A&&... a) {
  return CountedPtr<T>(counted_new<T>(std::forward<A>(a)...));
}

}  // namespace tiercache::l2
