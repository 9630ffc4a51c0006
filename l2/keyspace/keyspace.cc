// The L2 keyspace (see keyspace.h).
#include "l2/keyspace/keyspace.h"

#include <malloc.h>
#include <time.h>

#include <cstdio>

namespace tiercache::l2 {
namespace {

size_t alloc_bytes(void* p) { return malloc_usable_size(p) + sizeof(size_t); }

uint64_t mono_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

struct PolicyName {
  EvictionPolicy policy;
  std::string_view name;
};
constexpr PolicyName kPolicies[] = {
    {EvictionPolicy::kNoEviction, "noeviction"},
    {EvictionPolicy::kAllKeysLru, "allkeys-lru"},
    {EvictionPolicy::kVolatileLru, "volatile-lru"},
    {EvictionPolicy::kAllKeysRandom, "allkeys-random"},
    {EvictionPolicy::kVolatileRandom, "volatile-random"},
    {EvictionPolicy::kVolatileTtl, "volatile-ttl"},
};

}  // namespace

bool parse_eviction_policy(std::string_view s, EvictionPolicy* out) {
  for (const auto& p : kPolicies) {
    if (p.name == s) {
      *out = p.policy;
      return true;
    }
  }
  return false;
}

std::string_view eviction_policy_name(EvictionPolicy policy) {
  for (const auto& p : kPolicies)
    if (p.policy == policy) return p.name;
  return "unknown";
}

Keyspace::Keyspace(int num_dbs, uint64_t seed) : rng_(seed) {
  for (int i = 0; i < num_dbs; ++i)
    dbs_.push_back(std::make_unique<Db>(seed + i * 0x9e3779b97f4a7c15ull));
}

Keyspace::~Keyspace() {
  listeners_.clear();  // nothing to tell while the keyspace itself goes away
  for (int i = 0; i < num_dbs(); ++i) clear_db(i);
}

Entry* Keyspace::new_entry(std::string_view key, std::string_view value, int64_t expire_at,
                           ValueType type) {
  if (key.size() > UINT32_MAX || value.size() > UINT32_MAX) {
    fprintf(stderr, "tiercache-l2: entry larger than 4 GiB (broken invariant)\n");
    abort();
  }
  bool string = type == ValueType::kString;
  auto* e = static_cast<Entry*>(malloc(Entry::alloc_size(key.size(), value.size(), string)));
  if (e == nullptr) {
    fprintf(stderr, "tiercache-l2: out of memory allocating an entry\n");
    abort();
  }
  e->next = nullptr;
  e->expire_at = expire_at;
  e->key_len = static_cast<uint32_t>(key.size());
  e->val_len = static_cast<uint32_t>(value.size());
  e->lru = lru_clock_;
  e->type = static_cast<uint8_t>(type);
  if (!key.empty()) memcpy(e->data(), key.data(), key.size());
  if (!value.empty()) memcpy(e->value_data(), value.data(), value.size());
  entry_bytes_ += alloc_bytes(e);
  return e;
}

void Keyspace::free_entry(Entry* e, bool keep_value) {
  if (!e->is_string() && !keep_value) destroy_value(static_cast<ValueType>(e->type), e->object<void>());
  entry_bytes_ -= alloc_bytes(e);
  free(e);
}

Entry* Keyspace::lookup_write(int db, std::string_view key, int64_t now_ms) {
  Db& d = *dbs_[db];
  uint64_t h = d.dict.hash(key);
  Entry* e = d.dict.find(key, h);
  if (e == nullptr) return nullptr;
  if (e->expire_at != 0 && e->expire_at <= now_ms) {
    d.dict.unlink(key, h);
    --d.expires;
    ++stats_.expired_keys;
    signal(db, e->key(), ModifiedBy::kExpiry);
    free_entry(e);
    return nullptr;
  }
  return e;
}

Entry* Keyspace::lookup_read(int db, std::string_view key, int64_t now_ms) {
  Entry* e = lookup_write(db, key, now_ms);
  if (e == nullptr) {
    ++stats_.misses;
    return nullptr;
  }
  ++stats_.hits;
  e->lru = lru_clock_;
  return e;
}

Entry* Keyspace::set(int db, std::string_view key, std::string_view value, int64_t expire_at) {
  Db& d = *dbs_[db];
  uint64_t h = d.dict.hash(key);
  Entry* old = d.dict.find(key, h);
  if (old != nullptr) {
    if (old->expire_at != 0) --d.expires;
    // Reuse the allocation when the new value fits in it (and the old one is a string).
    size_t need = Entry::alloc_size(key.size(), value.size());
    if (old->is_string() && need <= malloc_usable_size(old) &&
        need * 2 >= malloc_usable_size(old)) {
      old->val_len = static_cast<uint32_t>(value.size());
      if (!value.empty()) memmove(old->value_data(), value.data(), value.size());
      old->expire_at = expire_at;
      old->lru = lru_clock_;
      if (expire_at != 0) ++d.expires;
      signal(db, key, ModifiedBy::kCommand);
      return old;
    }
    Entry* e = new_entry(key, value, expire_at);
    d.dict.replace(old, e, h);
    free_entry(old);
    if (expire_at != 0) ++d.expires;
    signal(db, key, ModifiedBy::kCommand);
    return e;
  }
  Entry* e = new_entry(key, value, expire_at);
  d.dict.insert(e, h);
  if (expire_at != 0) ++d.expires;
  signal(db, key, ModifiedBy::kCommand);
  return e;
}

void Keyspace::insert_object(int db, std::string_view key, ValueType type, void* obj,
                             int64_t expire_at) {
  Db& d = *dbs_[db];
  uint64_t h = d.dict.hash(key);
  Entry* e = new_entry(key, std::string_view(reinterpret_cast<const char*>(&obj), sizeof obj),
                       expire_at, type);
  d.dict.insert(e, h);
  if (expire_at != 0) ++d.expires;
}

Entry* Keyspace::rename(int db, Entry* e, std::string_view to) {
  Db& d = *dbs_[db];
  remove(db, to);
  Entry* n = new_entry(to, e->value(), e->expire_at, static_cast<ValueType>(e->type));
  Entry* got = d.dict.unlink(e->key(), d.dict.hash(e->key()));
  if (got != e) abort();
  if (e->expire_at != 0) --d.expires;
  signal(db, e->key(), ModifiedBy::kCommand);
  free_entry(e, true);  // n owns the value now
  d.dict.insert(n, d.dict.hash(to));
  if (n->expire_at != 0) ++d.expires;
  signal(db, to, ModifiedBy::kCommand);
  return n;
}

Entry* Keyspace::copy(const Entry* src, int dst_db, std::string_view to) {
  Db& d = *dbs_[dst_db];
  const auto type = static_cast<ValueType>(src->type);
  Entry* n;
  if (src->is_string()) {
    n = new_entry(to, src->value(), src->expire_at);
  } else {
    void* obj = clone_value(type, src->object<void>());
    n = new_entry(to, std::string_view(reinterpret_cast<const char*>(&obj), sizeof obj),
                  src->expire_at, type);
  }
  uint64_t h = d.dict.hash(to);
  if (Entry* old = d.dict.unlink(to, h)) {  // REPLACE: one signal for the new value below
    if (old->expire_at != 0) --d.expires;
    free_entry(old);
  }
  d.dict.insert(n, h);
  if (n->expire_at != 0) ++d.expires;
  signal(dst_db, to, ModifiedBy::kCommand);
  return n;
}

Entry* Keyspace::move(int db, Entry* e, int dst_db) {
  Db& s = *dbs_[db];
  Db& d = *dbs_[dst_db];
  Entry* n = new_entry(e->key(), e->value(), e->expire_at, static_cast<ValueType>(e->type));
  n->lru = e->lru;
  uint64_t h = s.dict.hash(e->key());
  if (s.dict.unlink(e->key(), h) != e) {
    fprintf(stderr, "tiercache-l2: move: entry not in its db (broken invariant)\n");
    abort();
  }
  if (e->expire_at != 0) --s.expires;
  d.dict.insert(n, d.dict.hash(n->key()));
  if (n->expire_at != 0) ++d.expires;
  free_entry(e, true);  // n owns the value now
  signal(db, n->key(), ModifiedBy::kCommand);
  signal(dst_db, n->key(), ModifiedBy::kCommand);
  return n;
}

Entry* Keyspace::append(int db, Entry* e, std::string_view more) {
  size_t need = Entry::alloc_size(e->key_len, static_cast<size_t>(e->val_len) + more.size());
  if (need <= malloc_usable_size(e)) {
    memcpy(e->value_data() + e->val_len, more.data(), more.size());
    e->val_len += static_cast<uint32_t>(more.size());
    signal(db, e->key(), ModifiedBy::kCommand);
    return e;
  }
  Db& d = *dbs_[db];
  uint64_t h = d.dict.hash(e->key());
  // Grow geometrically so repeated APPENDs are amortized O(1), as Redis's sds does.
  size_t grow = need < (1u << 20) ? need * 2 : need + (1u << 20);
  auto* n = static_cast<Entry*>(malloc(grow));
  if (n == nullptr) abort();
  memcpy(n, e, Entry::alloc_size(e->key_len, e->val_len));
  memcpy(n->value_data() + n->val_len, more.data(), more.size());
  n->val_len += static_cast<uint32_t>(more.size());
  entry_bytes_ += alloc_bytes(n);
  d.dict.replace(e, n, h);
  free_entry(e);
  signal(db, n->key(), ModifiedBy::kCommand);
  return n;
}

bool Keyspace::remove(int db, std::string_view key) {
  Db& d = *dbs_[db];
  Entry* e = d.dict.unlink(key, d.dict.hash(key));
  if (e == nullptr) return false;
  if (e->expire_at != 0) --d.expires;
  signal(db, e->key(), ModifiedBy::kCommand);
  free_entry(e);
  return true;
}

void Keyspace::remove_entry(int db, Entry* e, ModifiedBy by) {
  Db& d = *dbs_[db];
  Entry* got = d.dict.unlink(e->key(), d.dict.hash(e->key()));
  if (got != e) {
    fprintf(stderr, "tiercache-l2: remove_entry: entry not in its db (broken invariant)\n");
    abort();
  }
  if (e->expire_at != 0) --d.expires;
  signal(db, e->key(), by);
  free_entry(e);
}

void Keyspace::set_expire(int db, Entry* e, int64_t expire_at) {
  Db& d = *dbs_[db];
  if (e->expire_at != 0) --d.expires;
  e->expire_at = expire_at;
  if (expire_at != 0) ++d.expires;
  signal(db, e->key(), ModifiedBy::kCommand);
}

void Keyspace::flush_db(int db) {
  for (KeyspaceListener* l : listeners_) l->on_flushed(db);
  clear_db(db);
}

void Keyspace::flush_all() {
  for (KeyspaceListener* l : listeners_) l->on_flushed(-1);
  for (int i = 0; i < num_dbs(); ++i) clear_db(i);
}

void Keyspace::clear_db(int db) {
  Db& d = *dbs_[db];
  d.dict.clear([this](Entry* e) { free_entry(e); });
  d.expires = 0;
  d.expire_cursor = 0;
  d.evict_cursor = 0;
}

size_t Keyspace::table_bytes() const {
  size_t n = 0;
  for (const auto& d : dbs_) n += d->dict.table_bytes();
  return n;
}

size_t Keyspace::active_expire_cycle(int64_t now_ms, uint64_t budget_us) {
  const uint64_t start = mono_us();
  size_t removed = 0;
  const int n = num_dbs();
  for (int k = 0; k < n; ++k) {
    int db = (expire_db_ + k) % n;
    Db& d = *dbs_[db];
    if (d.expires == 0) continue;
    int steps = 0;
    do {
      scratch_.clear();
      d.expire_cursor = d.dict.scan(d.expire_cursor, [&](Entry* e) {
        if (e->expire_at != 0 && e->expire_at <= now_ms) scratch_.push_back(e);
      });
      for (Entry* e : scratch_) remove_entry(db, e, ModifiedBy::kExpiry);
      removed += scratch_.size();
      stats_.expired_keys += scratch_.size();
      if ((++steps & 63) == 0 && mono_us() - start > budget_us) {
        expire_db_ = db;  // resume here next cycle
        return removed;
      }
    } while (d.expire_cursor != 0 && d.expires > 0);
  }
  expire_db_ = 0;
  return removed;
}

void Keyspace::rehash_cron(uint64_t budget_us) {
  const uint64_t start = mono_us();
  for (auto& d : dbs_) {
    while (d->dict.rehash_step(100)) {
      if (mono_us() - start > budget_us) return;
    }
  }
}

uint64_t Keyspace::evict_score(const Entry* e, EvictionPolicy policy) {
  switch (policy) {
    case EvictionPolicy::kAllKeysLru:
    case EvictionPolicy::kVolatileLru:
      return static_cast<uint32_t>(lru_clock_ - e->lru);  // idle time: higher goes first
    case EvictionPolicy::kVolatileTtl:
      return UINT64_MAX - static_cast<uint64_t>(e->expire_at);  // sooner goes first
    default:
      return rng_();
  }
}

void Keyspace::sample(int db, bool volatile_only, int samples) {
  Db& d = *dbs_[db];
  scratch_.clear();
  if (volatile_only) {
    // Walk the db with its own cursor until `samples` keys with a TTL are found: random probes
    // would miss them when few keys are volatile. One full wrap at most.
    int wraps = 0;
    do {
      d.evict_cursor = d.dict.scan(d.evict_cursor, [&](Entry* e) {
        if (e->expire_at != 0) scratch_.push_back(e);
      });
      if (d.evict_cursor == 0) ++wraps;
    } while (scratch_.size() < static_cast<size_t>(samples) && wraps < 2);
  } else {
    for (int s = 0; s < samples; ++s) {
      Entry* e = d.dict.random_entry(rng_);
      if (e == nullptr) break;
      scratch_.push_back(e);
    }
  }
}

void Keyspace::pool_insert(int db, const Entry* e, uint64_t score) {
  for (size_t i = 0; i < pool_size_; ++i) {
    if (pool_[i].db == db && pool_[i].key == e->key()) return;  // already a candidate
  }
  if (pool_size_ == kPoolSize) {
    if (score <= pool_[0].score) return;  // worse than every candidate we hold
    // Drop the weakest (slot 0), keeping its string's capacity for reuse.
    std::string spare = std::move(pool_[0].key);
    for (size_t i = 1; i < pool_size_; ++i) pool_[i - 1] = std::move(pool_[i]);
    pool_[pool_size_ - 1].key = std::move(spare);
    --pool_size_;
  }
  size_t pos = pool_size_;
  std::string slot = std::move(pool_[pool_size_].key);
  while (pos > 0 && pool_[pos - 1].score > score) {
    pool_[pos] = std::move(pool_[pos - 1]);
    --pos;
  }
  slot.assign(e->key());
  pool_[pos].key = std::move(slot);
  pool_[pos].score = score;
  pool_[pos].db = db;
  ++pool_size_;
}

bool Keyspace::evict_to(size_t limit, size_t extra, EvictionPolicy policy, int samples) {
  if (used_bytes() + extra <= limit) return true;
  if (policy == EvictionPolicy::kNoEviction) return false;
  const bool volatile_only = policy == EvictionPolicy::kVolatileLru ||
                             policy == EvictionPolicy::kVolatileRandom ||
                             policy == EvictionPolicy::kVolatileTtl;
  const bool random =
      policy == EvictionPolicy::kAllKeysRandom || policy == EvictionPolicy::kVolatileRandom;
  const int n = num_dbs();
  while (used_bytes() + extra > limit) {
    bool evicted = false;
    bool sampled_any = false;
    for (int db = 0; db < n && !evicted; ++db) {
      Db& d = *dbs_[db];
      if (d.dict.size() == 0 || (volatile_only && d.expires == 0)) continue;
      sample(db, volatile_only, samples);
      sampled_any |= !scratch_.empty();
      if (random) {
        if (!scratch_.empty()) {
          remove_entry(db, scratch_[rng_() % scratch_.size()], ModifiedBy::kEviction);
          evicted = true;
        }
        continue;
      }
      for (Entry* e : scratch_) pool_insert(db, e, evict_score(e, policy));
    }
    // Take the best candidate that still exists and has not been used since it was scored.
    while (!evicted && pool_size_ > 0) {
      PoolEntry& best = pool_[pool_size_ - 1];
      --pool_size_;
      Dict& dict = dbs_[best.db]->dict;
      Entry* e = dict.find(best.key);
      if (e == nullptr || (volatile_only && e->expire_at == 0)) continue;
      uint64_t now_score = evict_score(e, policy);
      if (now_score < best.score) {  // touched since: re-rank instead of evicting
        int db = best.db;
        pool_insert(db, e, now_score);
        continue;
      }
      remove_entry(best.db, e, ModifiedBy::kEviction);
      evicted = true;
    }
    if (!evicted) {
      if (!sampled_any) return false;
      continue;
    }
    ++stats_.evicted_keys;
  }
  return true;
}

}  // namespace tiercache::l2
