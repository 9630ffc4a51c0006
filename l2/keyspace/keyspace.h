// The L2 keyspace: 16 databases of typed entries (strings, hashes, lists, sets, sorted sets)
// with TTL, memory accounting and eviction.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "l2/keyspace/dict.h"
#include "l2/keyspace/values.h"

namespace tiercache::l2 {

enum class EvictionPolicy {
  kNoEviction,
  kAllKeysLru,
  kVolatileLru,
  kAllKeysRandom,
  kVolatileRandom,
  kVolatileTtl
};

// Parses "allkeys-lru" etc.; false if unknown.
bool parse_eviction_policy(std::string_view s, EvictionPolicy* out);
std::string_view eviction_policy_name(EvictionPolicy p);

// Why a key changed: a command (through the mutators or signal_modified), or the keyspace on its
// own (expiry, lazy or active; eviction under maxmemory).
enum class ModifiedBy { kCommand, kExpiry, kEviction };

// Told of every modification of the keyspace, after it happened (tiercache-l2's client-side
// caching: l2/tracking/). Runs on the loop thread; must not modify the keyspace.
class KeyspaceListener {
 public:
  virtual ~KeyspaceListener() = default;
  // key of db was created, overwritten, modified in place, re-timed or deleted.
  virtual void on_key_modified(int db, std::string_view key, ModifiedBy by) = 0;
  // db was emptied (-1: every db).
  virtual void on_flushed(int db) = 0;
};

struct KeyspaceStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t expired_keys = 0;
  uint64_t evicted_keys = 0;
};

// Owns every entry (allocated with malloc, freed here) and accounts their bytes as the
// allocator reports them (malloc_usable_size plus the chunk header), so used_bytes() is the
// truthful size of the data. Time is passed in by the caller (unix ms) so that one command sees
// one clock. Not thread-safe: the server's single event-loop thread owns it.
//
// Every change reaches the listener: the mutators below (set, append, remove, set_expire) signal
// the key themselves, expiry and eviction signal what they delete, flushes signal the db. Code
// that changes a value in place through an Entry* must call signal_modified() after it.
class Keyspace {
 public:
  Keyspace(int num_dbs, uint64_t seed);
  ~Keyspace();
  Keyspace(const Keyspace&) = delete;
  Keyspace& operator=(const Keyspace&) = delete;

  int num_dbs() const { return static_cast<int>(dbs_.size()); }

  // Listeners told of every modification, in the order added (not owned: the client tracker,
  // the blocked clients' ready keys). Each must outlive the keyspace or be removed first.
  void add_listener(KeyspaceListener* listener) { listeners_.push_back(listener); }
  void remove_listener(KeyspaceListener* listener) { std::erase(listeners_, listener); }
  // Reports that key of db was modified by a command: invalidates clients' cached copies and
  // wakes clients blocked on it.
  void signal_modified(int db, std::string_view key) { signal(db, key, ModifiedBy::kCommand); }

  // The live entry for key, or nullptr; an expired entry is deleted first (lazy expiry).
  // lookup_read also counts hits/misses and refreshes the access clock.
  Entry* lookup_read(int db, std::string_view key, int64_t now_ms);
  Entry* lookup_write(int db, std::string_view key, int64_t now_ms);

  // Creates or replaces key with value and expire_at (unix ms, 0 = none). Returns the entry.
  Entry* set(int db, std::string_view key, std::string_view value, int64_t expire_at);
  // Creates key, which must be absent, holding a new empty T (a HashValue, ...); the entry
  // owns it. Returns the object.
  template <class T>
  T* create(int db, std::string_view key) {
    T* obj = counted_new<T>();
    insert_object(db, key, TypeOf<T>::value, obj, 0);
    return obj;
  }
  // Moves e's value and expiry to `to` (replacing whatever it held) and removes e.
  Entry* rename(int db, Entry* e, std::string_view to);
  // COPY: a deep copy of src (value, in the same encoding, and expiry) becomes `to` in dst_db,
  // replacing whatever `to` held there. src may live in any db. Signals `to` in dst_db.
  Entry* copy(const Entry* src, int dst_db, std::string_view to);
  // MOVE: e (live, of db) becomes the same key in dst_db, which must not hold it; value,
  // expiry and access clock go along. Signals the key in db, then in dst_db (as Redis).
  Entry* move(int db, Entry* e, int dst_db);
  // The entry for key whether expired or not, without deleting or counting anything (MEMORY
  // USAGE looks the key up this way in Redis 7.0).
  const Entry* peek(int db, std::string_view key) const { return dbs_[db]->dict.find(key); }
  // Appends to an existing entry's value, in place when the allocation has room.
  Entry* append(int db, Entry* e, std::string_view more);
  // Removes key; true if it existed (expired or not).
  bool remove(int db, std::string_view key);
  // Changes the expiry of a live entry (0 removes it).
  void set_expire(int db, Entry* e, int64_t expire_at);

  size_t db_size(int db) const { return dbs_[db]->dict.size(); }
  size_t db_expires(int db) const { return dbs_[db]->expires; }
  // Empty one db / every db; the listener hears on_flushed(db) / on_flushed(-1) even when the
  // db was empty already (as Redis sends its flush invalidation).
  void flush_db(int db);
  void flush_all();

  // One step of SCAN over db (see Dict::scan); emit gets live and expired entries alike.
  template <class F>
  uint64_t scan(int db, uint64_t cursor, F&& emit) const {
    return dbs_[db]->dict.scan(cursor, std::forward<F>(emit));
  }
  Entry* random_entry(int db) { return dbs_[db]->dict.random_entry(rng_); }

  // Removes expired keys without being asked, for at most budget_us microseconds; returns how
  // many were removed. Every key is visited once per full sweep of each db's cursor.
  size_t active_expire_cycle(int64_t now_ms, uint64_t budget_us);
  // Moves rehashing forward for at most budget_us microseconds.
  void rehash_cron(uint64_t budget_us);

  // Bytes of entries, typed values and tables.
  size_t used_bytes() const { return entry_bytes_ + mem::g_value_bytes + table_bytes(); }
  size_t table_bytes() const;

  // Evicts keys by `policy` until used_bytes() + extra <= limit. False when it cannot get there
  // (noeviction, or no candidates left under a volatile policy).
  bool evict_to(size_t limit, size_t extra, EvictionPolicy policy, int samples);

  void set_lru_clock(uint32_t clock) { lru_clock_ = clock; }
  uint32_t lru_clock() const { return lru_clock_; }
  const KeyspaceStats& stats() const { return stats_; }
  void reset_stats() { stats_ = KeyspaceStats{}; }
  uint64_t next_random() { return rng_(); }

 private:
  struct Db {
    explicit Db(uint64_t seed) : dict(seed) {}
    Dict dict;
    size_t expires = 0;
    uint64_t expire_cursor = 0;
    uint64_t evict_cursor = 0;
  };

  struct PoolEntry {
    uint64_t score = 0;
    int db = 0;
    std::string key;
  };
  static constexpr size_t kPoolSize = 16;

  uint64_t evict_score(const Entry* e, EvictionPolicy policy);
  // Fills scratch_ with up to `samples` candidates of db.
  void sample(int db, bool volatile_only, int samples);
  // Keeps the kPoolSize best eviction candidates seen, sorted by score ascending (as Redis's
  // eviction pool), so each eviction picks from far more keys than one sample.
  void pool_insert(int db, const Entry* e, uint64_t score);

  void signal(int db, std::string_view key, ModifiedBy by) {
    for (KeyspaceListener* l : listeners_) l->on_key_modified(db, key, by);
  }
  Entry* new_entry(std::string_view key, std::string_view value, int64_t expire_at,
                   ValueType type = ValueType::kString);
  void insert_object(int db, std::string_view key, ValueType type, void* obj, int64_t expire_at);
  // Frees the entry and, unless keep_value, the value object it owns.
  void free_entry(Entry* e, bool keep_value = false);
  void remove_entry(int db, Entry* e, ModifiedBy by);
  void clear_db(int db);  // frees every entry of db, silently

  std::vector<std::unique_ptr<Db>> dbs_;
  std::vector<KeyspaceListener*> listeners_;
  std::mt19937_64 rng_;
  size_t entry_bytes_ = 0;
  uint32_t lru_clock_ = 0;
  int expire_db_ = 0;
  KeyspaceStats stats_;
  std::vector<Entry*> scratch_;
  PoolEntry pool_[kPoolSize + 1];
  size_t pool_size_ = 0;
};

}  // namespace tiercache::l2
