// L1 store: a bounded key-value cache in a named POSIX shared-memory segment, with lock-free
// readers (seqlock per index bucket) and one writer at a time (robust mutex in the segment).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "l1/layout.h"

namespace tiercache::l1 {

enum class OpenMode {
  // Creates the segment or attaches to it; reinitializes it if its header is unknown, of
  // another layout version or other sizes, or left by an owner that did not shut down cleanly.
  kOwner,
  // Attaches only to a valid segment with a live owner; never modifies the layout. May call
  // get/scan/stats only (mutators return false).
  kReader,
};

struct Options {
  std::string name;                     // segment is /dev/shm/tiercache-<name>
  uint64_t memory_bytes = 64ull << 20;  // whole segment, fixed at creation, never grows
  uint64_t max_item_size = 1 << 20;     // values above this are refused
  uint64_t max_ttl_ms = 60000;          // caps every TTL; 0 = no cap
  uint64_t expected_item_bytes = 128;   // key+value size the index is sized for
  OpenMode mode = OpenMode::kOwner;
  // kReader: a get misses unless an owner has the segment in use and vouched (mark_current)
  // that it was current at most this long ago, so a process reading on its own stops serving
  // within this time of its owner dying, hanging or falling behind (the owner is what applies
  // invalidations). 0 = do not check.
  uint64_t reader_max_staleness_ms = 0;
  // kOwner: permission bits of a segment this process creates (readers need read and write).
  uint32_t file_mode = 0600;
  // kOwner: refuse to attach to a segment another live process owns (no co-writers): the
  // sidecar owns its segment alone, so two sidecars given the same name fail clearly.
  bool exclusive = false;
  // kOwner: per-hash-slot generations for db 0 (an L1 in front of a Redis Cluster, which has db
  // 0 only): flush_slot drops one slot's entries in O(1). Costs 576 KiB of the segment and a
  // CRC16 of the key per db-0 lookup; off, nothing is computed. Part of the layout: an owner
  // with the other setting replaces the segment; readers follow the segment's header.
  bool hash_slot_generations = false;
  uint64_t (*clock_ms)() = nullptr;  // tests only; default CLOCK_REALTIME ms since epoch
  // tests only; default steady_ms(). The clock of mark_current and of readers' staleness.
  uint64_t (*steady_clock_ms)() = nullptr;
};

struct Stats {
  uint64_t items = 0;             // current-generation entries (expired ones until reclaimed)
  uint64_t bytes_used = 0;        // arena bytes of those entries (record headers included)
  uint64_t arena_bytes_held = 0;  // arena bytes between ring tails and heads (dead included)
  uint64_t capacity_bytes = 0;    // arena size
  uint64_t hits = 0;              // lookups by owners
  uint64_t misses = 0;
  uint64_t reader_hits = 0;    // lookups by processes attached in reader mode
  uint64_t reader_misses = 0;  // (a reader's miss usually becomes an owner's lookup next)
  uint64_t reader_negative_hits = 0;  // reader_hits that found a negative entry (set_absent)
  uint64_t reader_stale_hits = 0;     // reader_hits served under the fail-safe stale window
  uint64_t evictions = 0;
  uint64_t index_evictions = 0;  // evictions forced by a full index neighbourhood
  uint64_t expirations = 0;
  uint64_t sets = 0;
  uint64_t deletes = 0;
  uint64_t flushes = 0;
  uint64_t slot_flushes = 0;  // hash slots flushed (flush_slot), not counted in flushes
  uint64_t reinits = 0;
};

struct ScanEntry {
  uint32_t db;
  std::string key;
};

// kAbsent: a negative entry (set_absent) says the key does not exist; a hit in every count.
enum class GetResult { kHit, kMiss, kAbsent };

// Thread-safety: every method may be called from any thread of any process attached to the
// same segment. get/scan/stats never block; mutators serialize on the segment's writer lock.
// No method throws on the data path.
class Store {
 public:
  // Opens (kOwner: creates or attaches, reinitializing an untrusted segment) the segment
  // named by `options`. Returns nullptr and sets *error on failure.
  static std::unique_ptr<Store> open(const Options& options, std::string* error);

  // Removes the named segment from /dev/shm (existing mappings stay valid). Returns true if
  // it existed.
  static bool unlink(const std::string& name);

  ~Store();  // unmaps; does NOT mark a clean shutdown (see close_clean)
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Lock-free lookup. On kHit copies the value into *value_out (resized) and, if ttl_left_ms
  // is non-null, stores the remaining TTL in ms (UINT64_MAX when the entry has none); on
  // kAbsent (a negative entry) *value_out is cleared. Never returns a torn value; may report a
  // miss for a key being written concurrently.
  GetResult get(uint32_t db, std::string_view key, std::string* value_out, uint64_t* ttl_left_ms);

  // Stores (db, key) -> value for ttl_ms (0 = no TTL; both capped by max_ttl_ms). Returns
  // false if refused: value larger than max_item_size, record too large for the arena, db >=
  // kMaxDbs, key longer than kMaxKeyBytes, or reader mode. May evict other entries.
  bool set(uint32_t db, std::string_view key, std::string_view value, uint64_t ttl_ms);

  // Stores a negative entry: (db, key) is known not to exist (get answers kAbsent). A record
  // of header and key only; replaced, deleted, flushed and expired like any entry.
  bool set_absent(uint32_t db, std::string_view key, uint64_t ttl_ms);

  // Removes (db, key). Returns true if a live entry was removed.
  bool del(uint32_t db, std::string_view key);

  // O(1): bump the global / per-db generation; older entries become invisible at once and
  // their space is reclaimed lazily. Return false in reader mode.
  bool flush_all();
  bool flush_db(uint32_t db);
  // O(1) per slot: bump the generation of these hash slots (l1/hash_slot.h key_slot) of db 0;
  // their entries become invisible at once, items/bytes drop by theirs. One lock for the lot.
  // False (nothing done) in reader mode or without Options::hash_slot_generations.
  bool flush_slots(std::span<const uint16_t> slots);
  bool flush_slot(uint16_t slot) { return flush_slots({&slot, 1}); }
  // Whether this segment has per-slot generations (flush_slot works).
  bool hash_slot_generations() const { return hash_slots_ != nullptr; }

  // Lock-free cursor scan over live entries (for pattern invalidation). Start with cursor 0;
  // appends up to about `count` buckets' worth of entries to *out and returns the next
  // cursor, 0 when done. Entries present for the whole scan are reported at least once;
  // entries written during the scan may or may not be.
  uint64_t scan(uint64_t cursor, size_t count, std::vector<ScanEntry>* out);

  // Reclaims index slots of expired or flushed entries in up to `max_buckets` buckets
  // (incremental sweep; call it periodically). Returns the number of slots reclaimed.
  size_t reclaim_expired(size_t max_buckets);

  Stats stats() const;

  // Owner: refreshes the heartbeat timestamp later owners and attaching readers check.
  void heartbeat();

  // Owner: vouches that every invalidation made before `as_of_ms` (steady_ms()) has been
  // applied to the segment. Readers with reader_max_staleness_ms trust it only while that is
  // recent. The sidecar calls it when one of its own bus messages comes back: the channel is
  // ordered, so everything published before it has arrived. Ignored while an invalidation
  // could not be applied (the writer lock timed out) until a flush_all succeeds, which this
  // tries first.
  void mark_current(uint64_t as_of_ms);

  // The owner's last vouch (mark_current), 0 if none stands.
  uint64_t vouched_ms() const;

  // Owner, fail-safe (its L2 is unreachable): while window_ms is non-zero, readers serve the
  // entries the owner vouched for at most window_ms ago (counted as stale hits), whatever
  // their reader_max_staleness_ms; 0 returns them to reader_max_staleness_ms.
  void set_stale_window(uint64_t window_ms);

  // The clock of mark_current and reader staleness: CLOCK_BOOTTIME in ms (the same in every
  // process of the host, never stepped back, counts suspend).
  static uint64_t steady_ms();

  // Owner: marks a clean shutdown so the next owner may trust the contents. The object must
  // not be used for mutations afterwards.
  void close_clean();

  // True once a newer owner replaced this segment; a reader should reopen.
  bool retired() const;

  // True if this mapping is no longer the segment under its name: retired, or the file was
  // unlinked or replaced. Two system calls; for a reader deciding whether to reopen.
  bool detached() const;

  // kReader: whether a get may hit now (an owner has the segment in use and, with
  // reader_max_staleness_ms set, vouched for it recently enough). False for a segment whose
  // owner stopped or died: a reader should reopen the name once a new owner runs.
  bool serving() const;

  const Layout& layout() const { return layout_; }
  uint64_t max_value_bytes() const { return layout_.max_item_bytes; }

 private:
  Store() = default;

  uint64_t now_ms() const;
  uint64_t steady_now_ms() const;
  // A reader's view of its owner, see serving(): may a hit be served, and is it stale.
  enum class Trust { kNone, kFresh, kStale };
  Trust owner_trust(uint32_t state) const;
  bool put(uint32_t db, std::string_view key, std::string_view value, uint64_t ttl_ms,
           uint8_t kind);
  bool lock();
  void unlock();
  void reinitialize_locked();
  void initialize_fresh(uint64_t reinits);
  bool dynamic_sound() const;
  uint64_t hash(uint32_t db, std::string_view key) const;
  // The hash slot whose generation stamps (db, key): -1 when none does (no region, or db != 0).
  int stamp_slot(uint32_t db, std::string_view key) const;
  uint32_t current_stamp(uint32_t db, int hslot) const;
  // The stamp a record in the arena (its key follows its header) has while live.
  uint32_t live_stamp(const RecordHeader& rh) const;
  bool expired(const RecordHeader& rh, uint64_t now_rel) const;

  // Writer internals (store_writer.cc); all require the writer lock.
  struct Found {
    uint64_t bucket;
    uint32_t index;
    uint64_t slot;
    uint64_t hash;
  };
  bool find_locked(uint32_t db, std::string_view key, uint64_t h, Found* found) const;
  bool find_by_offset_locked(uint64_t offset, Found* found) const;
  void begin_write(uint64_t bucket);
  void end_write(uint64_t bucket);
  void store_slot(const Found& f, uint64_t new_slot);
  void remove_slot(const Found& f);
  // Live-item accounting of a record at arena `offset` (per db, and main-ring bytes).
  void account_remove(const RecordHeader& rh, uint64_t offset);
  void account_add(const RecordHeader& rh, uint64_t offset);
  void zero_counters(uint32_t db);  // db == kMaxDbs: all dbs
  // The per-slot counters of a record in the arena (db 0, with the region), reset to zero if
  // counted in an older epoch; nullptr otherwise.
  HashSlotCounters* slot_counters(const RecordHeader& rh);
  uint64_t slot_epoch() const;
  bool place_new_locked(uint64_t h, uint64_t offset, uint64_t now_rel);
  bool allocate(Ring* ring, uint64_t bytes, uint64_t* offset);
  bool ring_reserve(Ring* ring, uint64_t bytes, uint64_t* offset);
  void ring_pop(Ring* ring, uint64_t bytes);
  bool ring_can_reserve(const Ring& ring, uint64_t bytes) const;
  bool main_has_room(uint64_t bytes);
  void evict_tail(Ring* ring, bool is_small, uint64_t* moved_bytes);
  bool ghost_test_and_clear(uint64_t h);
  void ghost_insert(uint64_t h);
  // Record at `offset` if its header and extent lie inside the arena, else nullptr.
  const RecordHeader* record_at(uint64_t offset) const;
  std::string_view record_key(const RecordHeader* rh) const;
  bool reclaimable(const RecordHeader& rh, uint64_t now_rel) const;

  Options options_;
  Layout layout_{};
  int fd_ = -1;
  void* map_ = nullptr;
  uint64_t map_bytes_ = 0;
  Header* header_ = nullptr;
  Bucket* buckets_ = nullptr;
  uint32_t* ghost_ = nullptr;
  unsigned char* arena_ = nullptr;
  HashSlotRegion* hash_slots_ = nullptr;  // null without Options::hash_slot_generations
  bool owner_ = false;
  bool unvouched_ = false;  // a mutation failed to take the lock: do not vouch until flushed
  uint64_t now_rel_ = 0;    // writer: ms since base_ms, sampled when the lock was taken
};

}  // namespace tiercache::l1
