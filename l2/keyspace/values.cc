// The typed values (see values.h): lookups and updates in each encoding, and the one-way
// conversions from the compact encoding when a threshold is crossed.
#include "l2/keyspace/values.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace tiercache::l2 {

std::string_view type_name(ValueType t) {
  switch (t) {
    case ValueType::kString:
      return "string";
    case ValueType::kList:
      return "list";
    case ValueType::kSet:
      return "set";
    case ValueType::kZSet:
      return "zset";
    case ValueType::kHash:
      return "hash";
  }
  return "none";
}

void destroy_value(ValueType t, void* obj) {
  switch (t) {
    case ValueType::kString:
      return;
    case ValueType::kHash:
      return counted_delete(static_cast<HashValue*>(obj));
    case ValueType::kList:
      return counted_delete(static_cast<ListValue*>(obj));
    case ValueType::kSet:
      return counted_delete(static_cast<SetValue*>(obj));
    case ValueType::kZSet:
      return counted_delete(static_cast<ZSetValue*>(obj));
  }
}

void* clone_value(ValueType t, const void* obj) {
  switch (t) {
    case ValueType::kString:
      break;
    case ValueType::kHash:
      return counted_new<HashValue>(*static_cast<const HashValue*>(obj));
    case ValueType::kList:
      return counted_new<ListValue>(*static_cast<const ListValue*>(obj));
    case ValueType::kSet:
      return counted_new<SetValue>(*static_cast<const SetValue*>(obj));
    case ValueType::kZSet:
      return counted_new<ZSetValue>(*static_cast<const ZSetValue*>(obj));
  }
  fprintf(stderr, "tiercache-l2: clone_value of a string (broken invariant)\n");
  abort();
}

std::string_view value_encoding(ValueType t, const void* obj) {
  switch (t) {
    case ValueType::kString:
      return "raw";
    case ValueType::kHash:
      return static_cast<const HashValue*>(obj)->encoding();
    case ValueType::kList:
      return static_cast<const ListValue*>(obj)->encoding();
    case ValueType::kSet:
      return static_cast<const SetValue*>(obj)->encoding();
    case ValueType::kZSet:
      return static_cast<const ZSetValue*>(obj)->encoding();
  }
  return "raw";
}

EncodingLimits& encoding_limits() {
  static EncodingLimits limits;
  return limits;
}

bool strict_int64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  size_t i = 0;
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    i = 1;
    if (s.size() == 1) return false;
  }
  if (s[i] == '0' && (s.size() > i + 1 || neg)) return false;  // no leading zeros, no "-0"
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (neg) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

// ---- hash ----

size_t HashValue::pack_find(std::string_view field) const {
  for (size_t off = 0; off < pack_.end();) {
    size_t next;
    std::string_view k = pack_.at(off, &next);
    if (k == field) return off;
    off = pack_.skip(next);
  }
  return pack_.end();
}

std::optional<std::string_view> HashValue::get(std::string_view field) const {
  if (packed()) {
    size_t off = pack_find(field);
    if (off == pack_.end()) return std::nullopt;
    size_t next;
    pack_.at(off, &next);
    return pack_.at(next, &next);
  }
  const auto* n = map_->find(field);
  if (n == nullptr) return std::nullopt;
  return std::string_view(n->value);
}

bool HashValue::set(std::string_view field, std::string_view value) {
  const auto& lim = encoding_limits();
  if (packed() &&
      (field.size() > lim.hash_max_listpack_value || value.size() > lim.hash_max_listpack_value))
    convert();
  if (packed()) {
    size_t off = pack_find(field);
    if (off != pack_.end()) {
      pack_.replace(pack_.skip(off), value);
      return false;
    }
    if (size() + 1 > lim.hash_max_listpack_entries) {
      convert();
    } else {
      pack_.push_back(field);
      pack_.push_back(value);
      return true;
    }
  }
  if (auto* n = map_->find(field); n != nullptr) {
    n->value.assign(value.data(), value.size());
    return false;
  }
  map_->insert(field, make_str(value));
  return true;
}

bool HashValue::del(std::string_view field) {
  if (packed()) {
    size_t off = pack_find(field);
    if (off == pack_.end()) return false;
    pack_.erase(off, 2);
    return true;
  }
  return map_->erase(field);
}

void HashValue::convert() {
  auto map = make_counted<ScanTable<Str>>();  // made aside: packed() is map_ == nullptr
  map->reserve(pack_.count() / 2 + 1);
  for_each([&map](std::string_view k, std::string_view v) { map->insert(k, make_str(v)); });
  pack_.clear();
  map_ = std::move(map);
}

// ---- set ----

bool SetValue::contains(std::string_view m) const {
  if (intset_) {
    int64_t v;
    if (!strict_int64(m, &v)) return false;
    return std::binary_search(ints_.begin(), ints_.end(), v);
  }
  return members_.find(m) != nullptr;
}

bool SetValue::add(std::string_view m) {
  if (intset_) {
    int64_t v;
    if (strict_int64(m, &v)) {
      auto it = std::lower_bound(ints_.begin(), ints_.end(), v);
      if (it != ints_.end() && *it == v) return false;
      if (ints_.size() + 1 <= encoding_limits().set_max_intset_entries) {
        ints_.insert(it, v);
        return true;
      }
    }
    convert();
  }
  if (members_.find(m) != nullptr) return false;
  members_.insert(m, NoValue{});
  return true;
}

bool SetValue::remove(std::string_view m) {
  if (intset_) {
    int64_t v;
    if (!strict_int64(m, &v)) return false;
    auto it = std::lower_bound(ints_.begin(), ints_.end(), v);
    if (it == ints_.end() || *it != v) return false;
    ints_.erase(it);
    return true;
  }
  return members_.erase(m);
}

std::string SetValue::random_member(uint64_t r) const {
  if (intset_) return std::to_string(ints_[r % ints_.size()]);
  // Uniform over buckets first, then over the chain (as the keyspace's dict).
  size_t nb = members_.bucket_count();
  for (size_t tries = 0;; ++tries) {
    size_t b = (r + tries * 0x9e3779b97f4a7c15ull) % nb;
    size_t len = 0;
    for (const auto* n = members_.bucket(b); n != nullptr; n = n->next) ++len;
    if (len == 0) continue;
    const auto* n = members_.bucket(b);
    for (size_t i = (r >> 32) % len; i > 0; --i) n = n->next;
    return std::string(n->key());
  }
}

void SetValue::convert() {
  members_.reserve(ints_.size() + 1);
  for_each([this](std::string_view m) { members_.insert(m, NoValue{}); });
  ints_.clear();
  ints_.shrink_to_fit();
  intset_ = false;
}

// ---- sorted set ----

size_t ZSetValue::pack_find(std::string_view member) const {
  for (size_t off = 0; off < pack_.end();) {
    size_t next;
    std::string_view m = pack_.at(off, &next);
    if (m == member) return off;
    off = pack_.skip(next);
  }
  return pack_.end();
}

std::optional<double> ZSetValue::score(std::string_view member) const {
  if (packed()) {
    size_t off = pack_find(member);
    if (off == pack_.end()) return std::nullopt;
    size_t next;
    pack_.at(off, &next);
    return pack_score(pack_.at(next, &next));
  }
  const auto* n = big_->scores.find(member);
  if (n == nullptr) return std::nullopt;
  return n->value;
}

void ZSetValue::pack_insert(std::string_view member, double score) {
  if (score == 0) score = 0;  // Redis's listpack keeps -0 as the integer 0
  size_t off = 0;
  while (off < pack_.end()) {
    size_t next;
    std::string_view m = pack_.at(off, &next);
    double s = pack_score(pack_.at(next, &next));
    if (s > score || (s == score && m > member)) break;
    off = next;
  }
  char raw[sizeof(double)];
  pack_.insert(off, std::string_view(raw, encode_score(score, raw)));
  pack_.insert(off, member);
}

void ZSetValue::set(std::string_view member, double score) {
  const auto& lim = encoding_limits();
  if (packed() && member.size() > lim.zset_max_listpack_value) convert();
  if (packed()) {
    size_t off = pack_find(member);
    if (off != pack_.end()) {
      pack_.erase(off, 2);
    } else if (size() + 1 > lim.zset_max_listpack_entries) {
      convert();
    }
    if (packed()) return pack_insert(member, score);
  }
  auto* n = big_->scores.find(member);
  if (n != nullptr) {
    big_->order.erase(n->value, n->key());
    n->value = score;
  } else {
    n = big_->scores.insert(member, score);
  }
  big_->order.insert(score, n);
}

ZSetValue::ZSetValue(const ZSetValue& other) : pack_(other.pack_) {
  if (other.packed()) return;
  big_ = make_counted<Big>();
  big_->scores.reserve(other.big_->scores.size());
  other.big_->scores.for_each([this](const auto& o) {
    auto* n = big_->scores.insert(o.key(), o.value);
    big_->order.insert(n->value, n);
  });
}

void ZSetValue::prepare(size_t count, size_t longest) {
  const auto& lim = encoding_limits();
  if (packed() && size() == 0 &&
      (count > lim.zset_max_listpack_entries || longest > lim.zset_max_listpack_value))
    convert();
}

bool ZSetValue::remove(std::string_view member) {
  if (packed()) {
    size_t off = pack_find(member);
    if (off == pack_.end()) return false;
    pack_.erase(off, 2);
    return true;
  }
  auto* n = big_->scores.find(member);
  if (n == nullptr) return false;
  big_->order.erase(n->value, n->key());
  big_->scores.erase(member);
  return true;
}

std::optional<size_t> ZSetValue::rank(std::string_view member) const {
  if (packed()) {
    size_t r = 0;
    for (size_t off = 0; off < pack_.end(); ++r) {
      size_t next;
      std::string_view m = pack_.at(off, &next);
      if (m == member) return r;
      off = pack_.skip(next);
    }
    return std::nullopt;
  }
  const auto* n = big_->scores.find(member);
  if (n == nullptr) return std::nullopt;
  return big_->order.count_before(n->value, n->key(), false);
}

std::vector<ZSetValue::Item> ZSetValue::range(size_t from, size_t to) const {
  std::vector<Item> out;
  if (from > to || from >= size()) return out;
  out.reserve(to - from + 1);
  if (packed()) {
    size_t r = 0;
    for (size_t off = 0; off < pack_.end() && r <= to; ++r) {
      size_t next;
      std::string_view m = pack_.at(off, &next);
      double s = pack_score(pack_.at(next, &next));
      if (r >= from) out.push_back(Item{m, s});
      off = next;
    }
    return out;
  }
  big_->order.walk(from, std::min(to, size() - 1), [&out](const SortedIndex::Entry& e) {
    out.push_back(Item{e.key(), e.score});
  });
  return out;
}

size_t ZSetValue::count_below_score(double min, bool exclusive) const {
  if (packed()) {
    size_t n = 0;
    for (size_t off = 0; off < pack_.end(); ++n) {
      size_t next;
      pack_.at(off, &next);
      double s = pack_score(pack_.at(next, &next));
      if (exclusive ? s > min : s >= min) break;
      off = next;
    }
    return n;
  }
  if (!exclusive) return big_->order.count_before(min, std::string_view(), false);
  if (min == INFINITY) return big_->order.size();
  return big_->order.count_before(std::nextafter(min, INFINITY), std::string_view(), false);
}

size_t ZSetValue::count_below_lex(std::string_view bound, bool inclusive) const {
  if (!packed()) {
    if (big_->order.empty()) return 0;
    return big_->order.count_before(big_->order.at(0).score, bound, inclusive);
  }
  size_t n = 0;
  for (const Item& it : range(0, size() == 0 ? 0 : size() - 1)) {
    if (inclusive ? it.member > bound : it.member >= bound) break;
    ++n;
  }
  return n;
}

void ZSetValue::convert() {
  auto big = make_counted<Big>();  // made aside: packed() is big_ == nullptr
  big->scores.reserve(pack_.count() / 2 + 1);
  for (size_t off = 0; off < pack_.end();) {
    size_t next;
    std::string_view m = pack_.at(off, &next);
    double s = pack_score(pack_.at(next, &next));
    auto* n = big->scores.insert(m, s);
    big->order.insert(s, n);
    off = next;
  }
  pack_.clear();
  big_ = std::move(big);
}

}  // namespace tiercache::l2
