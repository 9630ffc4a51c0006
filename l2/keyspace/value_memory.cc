// MEMORY USAGE's estimate of a typed value's bytes (the values of values.h). Each allocation is
// counted as glibc's malloc hands it out (the request plus an 8-byte header, rounded up to 16,
// at least 32). The compact encodings (listpack, intset) are counted exactly from their
// buffers' capacity. The general ones are counted as Redis's objectComputeSize does: the
// container's own table plus the average cost of the first `samples` elements (each element's
// node and the heap part of its strings) times the number of elements; samples = SIZE_MAX
// (SAMPLES 0) visits every element. The hashed nodes are scan_table.h's, the rest libstdc++'s.
#include <algorithm>
#include <cstddef>

#include "l2/keyspace/values.h"

namespace tiercache::l2 {
namespace {

constexpr size_t kPtr = sizeof(void*);

size_t chunk(size_t request) { return std::max<size_t>((request + 8 + 15) & ~size_t{15}, 32); }

// The heap part of a string: none while it fits the small-string buffer.
size_t str_heap(const Str& s) { return s.capacity() > 15 ? chunk(s.capacity() + 1) : 0; }

// A compact encoding's buffer (packed_bytes.h): its capacity fills its chunk already.
size_t packed_block(size_t capacity) { return capacity != 0 ? capacity + sizeof(size_t) : 0; }

// Cost of a hashed container of n elements whose first elements cost `sampled` bytes over `seen`
// of them: its bucket array plus the extrapolated elements.
size_t extrapolate(size_t fixed, size_t sampled, size_t seen, size_t n) {
  if (seen == 0) return fixed;
  return fixed + static_cast<size_t>(static_cast<double>(sampled) / static_cast<double>(seen) *
                                     static_cast<double>(n));
}

// Node of a ScanTable: next pointer, cached hash, the value, the key's size, and its bytes.
template <class V>
size_t hash_node(const typename ScanTable<V>::Node& n) {
  return chunk(sizeof(typename ScanTable<V>::Node) + n.key_size);
}

// The sampled cost of a ScanTable: the first `samples` nodes (node plus extra(node)) over the
// number seen, extrapolated to the whole table, plus its bucket array.
template <class V, class F>
size_t table_usage(size_t fixed, const ScanTable<V>& t, size_t samples, F&& extra) {
  size_t sampled = 0, seen = 0;
  for (size_t b = 0; b < t.bucket_count() && seen < samples; ++b)
    for (const auto* n = t.bucket(b); n != nullptr && seen < samples; n = n->next, ++seen)
      sampled += hash_node<V>(*n) + extra(*n);
  return extrapolate(fixed + chunk(t.bucket_count() * kPtr), sampled, seen, t.size());
}

}  // namespace

size_t HashValue::memory_usage(size_t samples) const {
  size_t total = chunk(sizeof(HashValue));
  if (packed()) return total + packed_block(pack_.capacity());
  total += chunk(sizeof(ScanTable<Str>));
  return table_usage(total, *map_, samples, [](const auto& n) { return str_heap(n.value); });
}

size_t ListValue::memory_usage(size_t) const {
  return chunk(sizeof(ListValue)) + items_.allocated_bytes();
}

size_t SetValue::memory_usage(size_t samples) const {
  size_t total = chunk(sizeof(SetValue));
  if (intset_) return total + (ints_.capacity() ? chunk(ints_.capacity() * sizeof(int64_t)) : 0);
  return table_usage(total, members_, samples, [](const auto&) { return size_t{0}; });
}

size_t ZSetValue::memory_usage(size_t samples) const {
  size_t total = chunk(sizeof(ZSetValue));
  if (packed()) return total + packed_block(pack_.capacity());
  // Each member's node in the score map, sampled; the ordered index's nodes counted whole.
  total += chunk(sizeof(Big)) + big_->order.allocated_bytes();
  return table_usage(total, big_->scores, samples, [](const auto&) { return size_t{0}; });
}

size_t value_memory_usage(ValueType t, const void* obj, size_t samples) {
  switch (t) {
    case ValueType::kString:
      return 0;
    case ValueType::kHash:
      return static_cast<const HashValue*>(obj)->memory_usage(samples);
    case ValueType::kList:
      return static_cast<const ListValue*>(obj)->memory_usage(samples);
    case ValueType::kSet:
      return static_cast<const SetValue*>(obj)->memory_usage(samples);
    case ValueType::kZSet:
      return static_cast<const ZSetValue*>(obj)->memory_usage(samples);
  }
  return 0;
}

}  // namespace tiercache::l2
