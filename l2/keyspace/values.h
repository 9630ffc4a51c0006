// The typed values of the L2 keyspace: hash, list, set and sorted set, each with the compact
// encoding Redis 7.0 uses for small sizes (listpack, intset) and its general one (hashtable,
// quicklist, skiplist), converted one way at the same thresholds (config names as Redis's).
// Every value walks its elements in order with for_each, which is what an RDB writer needs.
// All memory goes through CountingAllocator (alloc.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "l2/keyspace/alloc.h"
#include "l2/keyspace/pack.h"
#include "l2/keyspace/quicklist.h"
#include "l2/keyspace/scan_table.h"
#include "l2/keyspace/sorted_index.h"

namespace tiercache::l2 {

// The order is Redis's RDB object type order (string 0, list 1, set 2, zset 3, hash 4).
enum class ValueType : uint8_t { kString = 0, kList = 1, kSet = 2, kZSet = 3, kHash = 4 };
std::string_view type_name(ValueType t);

// Conversion thresholds (CONFIG names hash-max-listpack-entries, ...). Set by the server from
// its config; one per process like the allocator counter.
struct EncodingLimits {
  size_t hash_max_listpack_entries = 512;
  size_t hash_max_listpack_value = 64;
  size_t set_max_intset_entries = 512;
  size_t zset_max_listpack_entries = 128;
  size_t zset_max_listpack_value = 64;
};
EncodingLimits& encoding_limits();

// Parses a member as Redis's string2ll does (canonical decimal int64 only).
bool strict_int64(std::string_view s, int64_t* out);

class HashValue {
 public:
  HashValue() = default;
  HashValue(const HashValue& o)
      : pack_(o.pack_), map_(o.map_ ? make_counted<ScanTable<Str>>(*o.map_) : nullptr) {}
  HashValue& operator=(const HashValue&) = delete;

  size_t size() const { return packed() ? pack_.count() / 2 : map_->size(); }
  std::string_view encoding() const { return packed() ? "listpack" : "hashtable"; }
  // Bytes held, for MEMORY USAGE (value_memory.cc): exact for the compact encodings, the
  // general ones extrapolated from up to `samples` elements.
  size_t memory_usage(size_t samples) const;
  std::optional<std::string_view> get(std::string_view field) const;
  // True when the field is new.
  bool set(std::string_view field, std::string_view value);
  bool del(std::string_view field);
  // f(field, value) for every pair, in storage order.
  template <class F>
  void for_each(F&& f) const {
    if (packed()) {
      for (size_t off = 0; off < pack_.end();) {
        std::string_view k = pack_.at(off, &off);
        std::string_view v = pack_.at(off, &off);
        f(k, v);
      }
    } else {
      map_->for_each([&f](const auto& n) { f(n.key(), std::string_view(n.value)); });
    }
  }
  // One HSCAN step: f(field, value) for the pairs the cursor names; the next cursor (0 at the
  // end). A listpack is returned whole at once, as Redis does; a hashtable bucket by bucket.
  template <class F>
  uint64_t scan(uint64_t cursor, F&& f) const {
    if (packed()) {
      for_each(f);
      return 0;
    }
    return map_->scan(cursor, [&f](const auto& n) { f(n.key(), std::string_view(n.value)); });
  }

 private:
  // Offset of field's entry in the pack, or pack_.end().
  size_t pack_find(std::string_view field) const;
  void convert();

  // The listpack encoding until map_ is made. 24 bytes in all: a 32-byte block per hash.
  bool packed() const { return map_ == nullptr; }
  Pack pack_;
  CountedPtr<ScanTable<Str>> map_;  // the hashtable encoding, made on conversion only
};

// Redis 7.0 reports every list as "quicklist"; so is it kept (quicklist.h).
class ListValue {
 public:
  size_t size() const { return items_.size(); }
  std::string_view encoding() const { return "quicklist"; }
  // Bytes held, for MEMORY USAGE (value_memory.cc): exact.
  size_t memory_usage(size_t samples) const;
  QuickList& items() { return items_; }
  const QuickList& items() const { return items_; }
  template <class F>
  void for_each(F&& f) const {
    items_.for_each(f);
  }

 private:
  QuickList items_;
};

class SetValue {
 public:
  size_t size() const { return intset_ ? ints_.size() : members_.size(); }
  std::string_view encoding() const { return intset_ ? "intset" : "hashtable"; }
  // Bytes held, for MEMORY USAGE (value_memory.cc): exact for the compact encodings, the
  // general ones extrapolated from up to `samples` elements.
  size_t memory_usage(size_t samples) const;
  bool contains(std::string_view m) const;
  bool add(std::string_view m);
  bool remove(std::string_view m);
  // The member at a random position (set must not be empty); index from the caller's rng.
  std::string random_member(uint64_t r) const;
  template <class F>
  void for_each(F&& f) const {
    if (intset_) {
      char buf[24];
      for (int64_t v : ints_) {
        int n = snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
        f(std::string_view(buf, static_cast<size_t>(n)));
      }
    } else {
      members_.for_each([&f](const auto& n) { f(n.key()); });
    }
  }
  // One SSCAN step (see HashValue::scan): an intset whole, a hashtable bucket by bucket.
  template <class F>
  uint64_t scan(uint64_t cursor, F&& f) const {
    if (intset_) {
      for_each(f);
      return 0;
    }
    return members_.scan(cursor, [&f](const auto& n) { f(n.key()); });
  }

 private:
  void convert();

  bool intset_ = true;
  std::vector<int64_t, CountingAllocator<int64_t>> ints_;  // sorted
  ScanTable<NoValue> members_;
};

class ZSetValue {
 public:
  struct Item {
    std::string_view member;
    double score;
  };

  ZSetValue() = default;
  // A deep copy in the same encoding (COPY): the index points at the copy's own members.
  ZSetValue(const ZSetValue& other);
  ZSetValue& operator=(const ZSetValue&) = delete;

  size_t size() const { return packed() ? pack_.count() / 2 : big_->scores.size(); }
  std::string_view encoding() const { return packed() ? "listpack" : "skiplist"; }
  // Bytes held, for MEMORY USAGE (value_memory.cc): exact for the compact encodings, the
  // general ones extrapolated from up to `samples` elements.
  size_t memory_usage(size_t samples) const;
  std::optional<double> score(std::string_view member) const;
  // Inserts or moves member to score.
  void set(std::string_view member, double score);
  bool remove(std::string_view member);
  // On an empty value about to receive `count` members, the longest `longest` bytes: takes the
  // general encoding at once if they will not fit the listpack, as Redis builds the results of
  // ZUNIONSTORE & co (so a -0 score stays -0 there; the listpack keeps it as 0).
  void prepare(size_t count, size_t longest);
  // 0-based position in (score, member) order, or nullopt.
  std::optional<size_t> rank(std::string_view member) const;
  // Elements with rank in [from, to] (inclusive, clamped by the caller), in order.
  std::vector<Item> range(size_t from, size_t to) const;
  // Number of elements ordered before the bound: score < min (or <= min when exclusive).
  size_t count_below_score(double min, bool exclusive) const;
  // Number of elements whose member sorts before `bound` (or <= when inclusive) — meaningful
  // when all scores are equal, as ZRANGEBYLEX requires.
  size_t count_below_lex(std::string_view bound, bool inclusive) const;
  template <class F>
  void for_each(F&& f) const {
    if (size() == 0) return;
    for (const Item& it : range(0, size() - 1)) f(it.member, it.score);
  }
  // One ZSCAN step (see HashValue::scan): a listpack whole, a skiplist's member index bucket
  // by bucket.
  template <class F>
  uint64_t scan(uint64_t cursor, F&& f) const {
    if (packed()) {
      for_each(f);
      return 0;
    }
    return big_->scores.scan(cursor, [&f](const auto& n) { f(n.key(), n.value); });
  }

 private:
  // A score in the listpack: 8 raw bytes of the double, or, for an integer score of magnitude
  // below 2^53 (exact as a double), its two's complement in the fewest little-endian bytes
  // (0 to 7; 0 bytes is the score 0), as Redis's listpack stores integral scores as integers.
  static size_t encode_score(double score, char* out) {
    if (score >= -9007199254740992.0 && score <= 9007199254740992.0 &&
        score == static_cast<double>(static_cast<int64_t>(score))) {
      auto v = static_cast<int64_t>(score);
      size_t n = 0;  // the fewest bytes whose sign extension is v (at most 7 below 2^53)
      while (n == 0 ? v != 0
                    : (v < -(int64_t{1} << (8 * n - 1)) || v >= (int64_t{1} << (8 * n - 1))))
        ++n;
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
      return n;
    }
    memcpy(out, &score, sizeof score);
    return sizeof score;
  }
  static double pack_score(std::string_view raw) {
    if (raw.size() == sizeof(double)) {
      double d;
      memcpy(&d, raw.data(), sizeof d);
      return d;
    }
    if (raw.empty()) return 0;
    uint64_t u = 0;
    for (size_t i = 0; i < raw.size(); ++i)
      u |= static_cast<uint64_t>(static_cast<uint8_t>(raw[i])) << (8 * i);
    size_t bits = 8 * raw.size();
    if (u >> (bits - 1)) u |= ~uint64_t{0} << bits;  // sign-extend
    return static_cast<double>(static_cast<int64_t>(u));
  }
  size_t pack_find(std::string_view member) const;  // offset or end()
  void pack_insert(std::string_view member, double score);
  void convert();

  // The skiplist encoding, allocated on conversion only: a small sorted set carries no empty
  // table or index.
  struct Big {
    ScanTable<double> scores;
    SortedIndex order;  // entries point at scores's nodes
  };

  // The listpack encoding until big_ is made. 24 bytes in all: a 32-byte block per sorted set.
  bool packed() const { return big_ == nullptr; }
  Pack pack_;  // member, score (encode_score), sorted by (score, member)
  CountedPtr<Big> big_;
};

// The ValueType of each value class, and destruction by type (the keyspace frees entries).
template <class T>
struct TypeOf;
template <>
struct TypeOf<HashValue> {
  static constexpr ValueType value = ValueType::kHash;
};
template <>
struct TypeOf<ListValue> {
  static constexpr ValueType value = ValueType::kList;
};
template <>
struct TypeOf<SetValue> {
  static constexpr ValueType value = ValueType::kSet;
};
template <>
struct TypeOf<ZSetValue> {
  static constexpr ValueType value = ValueType::kZSet;
};
void destroy_value(ValueType t, void* obj);
// A new counted deep copy of a non-string value, in the same encoding (as Redis's COPY
// duplicates: a hashtable stays a hashtable even when small).
void* clone_value(ValueType t, const void* obj);
std::string_view value_encoding(ValueType t, const void* obj);
// MEMORY USAGE's estimate of a non-string value (see memory_usage above).
size_t value_memory_usage(ValueType t, const void* obj, size_t samples);

}  // namespace tiercache::l2
