// L1 shared-memory layout: the records that live in the segment, their bit encodings and the
// arithmetic that derives a layout from the options. Offsets only, never pointers.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace tiercache::l1 {

// Segment = [Header | Hash slots (optional) | Bucket index | Ghost table | Arena (small ring |
// main ring)]. See docs/l1.md for the diagram. Every structure here is trivially copyable and
// standard layout; shared counters are plain integers accessed through std::atomic_ref.

inline constexpr uint64_t kMagic = 0x314c'4548'4341'4354ull;  // "TCACHEL1" little-endian
// 2: current_ms, reader_hits/reader_misses; 3: absent records, stale_window_ms,
// reader_negative_hits/reader_stale_hits; 4: the optional hash-slot region (per-slot generations)
inline constexpr uint32_t kLayoutVersion = 4;
inline constexpr uint32_t kMaxDbs = 256;          // db ids 0..255 (Redis default is 16)
inline constexpr uint32_t kMaxKeyBytes = 0xFFFF;  // key length fits the u16 record field
inline constexpr uint32_t kSlotsPerBucket = 7;    // 7 slots + 1 meta word = one cache line
inline constexpr uint32_t kMaxProbe = 4;          // buckets probed per key (distance 0..3)
inline constexpr uint32_t kArenaUnit = 4;         // record alignment; slot offsets count units
inline constexpr uint64_t kMinSegmentBytes = 64 * 1024;
inline constexpr uint64_t kMaxSegmentBytes = 16ull << 30;  // u32 offsets in 4-byte units

// Header.state values.
inline constexpr uint32_t kStateInUse = 1;    // an owner process has it open
inline constexpr uint32_t kStateClean = 2;    // last owner called close_clean()
inline constexpr uint32_t kStateRetired = 3;  // replaced by a new segment; readers must reopen

// One ring of the arena (S3-FIFO small or main queue), byte offsets relative to the arena.
// Data lives in [tail, head) when !wrapped, else in [tail, wrap) + [begin, head).
// Written only by the writer holding the lock.
struct Ring {
  uint64_t begin;
  uint64_t end;
  uint64_t head;
  uint64_t tail;
  uint64_t wrap;
  uint64_t used;     // bytes of records between tail and head
  uint64_t wrapped;  // 0 or 1
  uint64_t pad;
};

// Fields before `static_checksum` are fixed at initialization and covered by the checksum.
struct alignas(64) Header {
  uint64_t magic;
  uint32_t layout_version;
  uint32_t header_bytes;
  uint64_t total_bytes;
  uint64_t bucket_offset;
  uint64_t bucket_count;
  uint64_t ghost_offset;
  uint64_t ghost_count;
  uint64_t arena_offset;
  uint64_t arena_bytes;
  uint64_t small_bytes;
  uint64_t max_item_bytes;    // largest value accepted
  uint64_t max_record_bytes;  // largest record (header + key + value) accepted
  uint64_t max_ttl_ms;
  // The hash-slot region (Options::hash_slot_generations): HashSlotRegion at this offset, or
  // both 0 when the segment has none.
  uint64_t hash_slot_offset;
  uint64_t hash_slot_count;  // 0 or kHashSlots
  uint64_t static_checksum;  // XXH64 of the bytes above

  // Dynamic part. Readers load these with acquire; the writer stores with release.
  alignas(64) uint32_t state;
  uint32_t owner_pid;
  uint64_t heartbeat_ms;  // CLOCK_REALTIME ms since the epoch
  uint64_t base_ms;       // record expiry times are u32 ms relative to this
  uint64_t global_gen;    // bumped by flush_all
  uint64_t sweep_cursor;  // next bucket for reclaim_expired()
  // The owner vouches that every invalidation published before this time (CLOCK_BOOTTIME ms,
  // Store::steady_ms) has been applied; 0 = not known. Readers in reader mode trust the
  // segment only while this is recent (Options::reader_max_staleness_ms).
  uint64_t current_ms;
  // Fail-safe (the owner cannot reach its L2): while non-zero, readers serve what the owner
  // vouched for (current_ms) at most this many ms ago, instead of reader_max_staleness_ms.
  uint64_t stale_window_ms;

  // Statistics. hits/misses are bumped by the owners' own lookups, reader_hits/reader_misses
  // by processes attached in reader mode (relaxed atomic adds).
  alignas(64) uint64_t hits;
  uint64_t misses;
  uint64_t reader_hits;
  uint64_t reader_misses;
  uint64_t reader_negative_hits;  // subset of reader_hits: absent records
  uint64_t reader_stale_hits;     // subset of reader_hits: served under stale_window_ms
  alignas(64) uint64_t evictions;
  uint64_t expirations;
  uint64_t sets;
  uint64_t deletes;
  uint64_t flushes;
  uint64_t reinits;
  uint64_t index_evictions;  // subset of evictions forced by a full index neighbourhood
  uint64_t slot_flushes;     // hash slots flushed (Store::flush_slots)

  alignas(64) Ring small;
  Ring main;

  alignas(64) pthread_mutex_t writer_lock;  // robust, process-shared

  alignas(64) uint32_t db_gen[kMaxDbs];  // bumped by flush_db
  uint64_t db_items[kMaxDbs];            // live (current-generation) items per db
  uint64_t db_bytes[kMaxDbs];            // their record bytes
  uint64_t db_main_bytes[kMaxDbs];       // the part of db_bytes stored in the main ring
  uint64_t main_live_bytes;              // sum of db_main_bytes
};

// Per-hash-slot generations of db 0 (a Redis Cluster has db 0 only), for an L1 in front of a
// cluster: a record of db 0 is stamped global_gen + db_gen[0] + gen[slot of its key], so bumping
// gen[s] (Store::flush_slot) hides slot s's entries at once. The counters are the live items and
// bytes of db 0 per slot (what flush_slot takes off db_items[0] etc.); they belong to the epoch
// global_gen + db_gen[0] they were counted in (a flush of all or of db 0 starts a new one, so a
// slot whose epoch is older counts zero without anyone clearing it). Writer only, under the lock,
// except gen, which readers load with acquire.
struct HashSlotCounters {
  uint64_t epoch;
  uint64_t items;
  uint64_t bytes;
  uint64_t main_bytes;
};
inline constexpr uint32_t kHashSlotCount = 16384;  // = l1/hash_slot.h kHashSlots
struct HashSlotRegion {
  uint32_t gen[kHashSlotCount];
  HashSlotCounters counters[kHashSlotCount];
};

// Index bucket: one cache line. meta = seq (bits 0..31, odd while a write is in progress)
// | overflow count (bits 32..47: entries homed at or before this bucket stored after it).
struct alignas(64) Bucket {
  uint64_t meta;
  uint64_t slots[kSlotsPerBucket];
};

// Slot (u64): bits 0..31 arena offset in units + 1 (0 = empty slot), 32..33 S3-FIFO frequency,
// 34..35 probe distance from the home bucket, 36..63 hash tag.
inline constexpr uint64_t kSlotOffsetMask = 0xFFFF'FFFFull;
inline constexpr int kSlotFreqShift = 32;
inline constexpr int kSlotDistShift = 34;
inline constexpr int kSlotTagShift = 36;
inline constexpr uint32_t kMaxFreq = 3;

inline uint64_t make_slot(uint64_t offset_bytes, uint32_t freq, uint32_t dist, uint64_t hash) {
  return (offset_bytes / kArenaUnit + 1) | (uint64_t{freq} << kSlotFreqShift) |
         (uint64_t{dist} << kSlotDistShift) | ((hash >> kSlotTagShift) << kSlotTagShift);
}
inline uint64_t slot_offset(uint64_t slot) { return ((slot & kSlotOffsetMask) - 1) * kArenaUnit; }
inline uint32_t slot_freq(uint64_t slot) { return (slot >> kSlotFreqShift) & 3; }
inline uint32_t slot_dist(uint64_t slot) { return (slot >> kSlotDistShift) & 3; }
inline bool slot_tag_matches(uint64_t slot, uint64_t hash) {
  return (slot >> kSlotTagShift) == (hash >> kSlotTagShift);
}
inline uint64_t slot_with_freq(uint64_t slot, uint32_t freq) {
  return (slot & ~(uint64_t{3} << kSlotFreqShift)) | (uint64_t{freq} << kSlotFreqShift);
}

inline uint32_t meta_seq(uint64_t meta) { return static_cast<uint32_t>(meta); }
inline uint32_t meta_overflow(uint64_t meta) { return (meta >> 32) & 0xFFFF; }

// Arena record header; followed by key bytes then value bytes, padded to kArenaUnit.
//
//   0        4      6    7     8        12          16
//   +--------+------+----+-----+--------+-----------+------ ... ------+---- ... ----+
//   |val_len |keylen| db |kind | stamp  | expire_rel| key             | value        |
//   +--------+------+----+-----+--------+-----------+------ ... ------+---- ... ----+
struct RecordHeader {
  uint32_t value_len;
  uint16_t key_len;
  uint8_t db;
  uint8_t kind;         // kRecordKind, or kAbsentKind (no value: the key is known absent)
  uint32_t stamp;       // global_gen + db_gen[db] (+ hash slot gen, db 0) mod 2^32 when written
  uint32_t expire_rel;  // expiry in ms after Header::base_ms; 0 = never
};
inline constexpr uint8_t kRecordKind = 0x5A;
inline constexpr uint8_t kAbsentKind = 0xA5;  // a negative entry: key and header only
inline constexpr bool known_kind(uint8_t kind) { return kind == kRecordKind || kind == kAbsentKind; }

inline constexpr uint64_t record_bytes(uint64_t key_len, uint64_t value_len) {
  return (sizeof(RecordHeader) + key_len + value_len + kArenaUnit - 1) / kArenaUnit * kArenaUnit;
}

static_assert(std::is_trivially_copyable_v<Header> && std::is_standard_layout_v<Header>);
static_assert(std::is_trivially_copyable_v<Bucket> && std::is_standard_layout_v<Bucket>);
static_assert(std::is_trivially_copyable_v<Ring> && std::is_standard_layout_v<Ring>);
static_assert(std::is_trivially_copyable_v<RecordHeader> &&
              std::is_standard_layout_v<RecordHeader>);
static_assert(sizeof(Bucket) == 64);
static_assert(sizeof(RecordHeader) == 16);
static_assert(sizeof(Header) <= 8192);
static_assert(std::is_trivially_copyable_v<HashSlotRegion> &&
              std::is_standard_layout_v<HashSlotRegion>);
static_assert(sizeof(HashSlotRegion) % 4096 == 0);
static_assert(offsetof(Header, state) % 64 == 0);

// Geometry derived from the options; a segment is trusted only if its header equals the one
// derived from its own total size and limits.
struct Layout {
  uint64_t header_bytes;
  uint64_t total_bytes;
  uint64_t bucket_offset;
  uint64_t bucket_count;
  uint64_t ghost_offset;
  uint64_t ghost_count;
  uint64_t arena_offset;
  uint64_t arena_bytes;
  uint64_t small_bytes;
  uint64_t max_item_bytes;
  uint64_t max_record_bytes;
  uint64_t max_ttl_ms;
  uint64_t hash_slot_offset;  // 0: no hash-slot region
  uint64_t hash_slot_count;
};

// Computes the layout for a segment of `total_bytes` expecting items of about
// `expected_item_bytes` (key + value), with a hash-slot region if hash_slots. Returns false if
// total_bytes is out of range.
bool compute_layout(uint64_t total_bytes, uint64_t expected_item_bytes, uint64_t max_item_bytes,
                    uint64_t max_ttl_ms, bool hash_slots, Layout* out);

// Checksum over the static part of the header.
uint64_t header_checksum(const Header& h);

}  // namespace tiercache::l1
