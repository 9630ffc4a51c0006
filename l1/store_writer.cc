// L1 write path (under the segment's writer lock): set/del/flush, the index with seqlock
// write sections, the two-ring S3-FIFO arena and its ghost table, reclamation of expired items.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "l1/hash_slot.h"
#include "l1/store.h"

namespace tiercache::l1 {

namespace {

constexpr uint64_t kRebaseAfterMs = 1ull << 31;  // u32 expiry offsets stay far from overflow

template <class T>
T load_rlx(const T& v) {
  return std::atomic_ref<T>(const_cast<T&>(v)).load(std::memory_order_relaxed);
}
template <class T, class U>
void store_rlx(T& v, U x) {
  std::atomic_ref<T>(v).store(static_cast<T>(x), std::memory_order_relaxed);
}
template <class T, class U>
void store_rel(T& v, U x) {
  std::atomic_ref<T>(v).store(static_cast<T>(x), std::memory_order_release);
}
template <class T, class U>
void add_rlx(T& v, U x) {  // writer-only counters: single writer, readers load relaxed
  store_rlx(v, static_cast<T>(load_rlx(v) + x));
}

inline uint64_t home_bucket(uint64_t h, uint64_t count) {
  return ((h & 0xFFFFFFFFull) * count) >> 32;
}

inline uint64_t with_seq(uint64_t meta, uint32_t seq) { return (meta & ~0xFFFFFFFFull) | seq; }

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "tiercache l1: broken invariant: %s\n", what);
  std::abort();
}

}  // namespace

// --- seqlock write sections -------------------------------------------------------------

void Store::begin_write(uint64_t bucket) {
  uint64_t& meta = buckets_[bucket].meta;
  const uint64_t m = load_rlx(meta);
  if ((m & 1) == 0) store_rlx(meta, with_seq(m, meta_seq(m) + 1));  // odd: write in progress
  std::atomic_thread_fence(std::memory_order_release);
}

void Store::end_write(uint64_t bucket) {
  uint64_t& meta = buckets_[bucket].meta;
  const uint64_t m = load_rlx(meta);
  store_rel(meta, with_seq(m, meta_seq(m) + 1));  // even again
}

void Store::store_slot(const Found& f, uint64_t new_slot) {
  begin_write(f.bucket);
  store_rlx(buckets_[f.bucket].slots[f.index], new_slot);
  end_write(f.bucket);
}

void Store::remove_slot(const Found& f) {
  store_slot(f, 0);
  const uint32_t dist = slot_dist(f.slot);
  const uint64_t count = layout_.bucket_count;
  uint64_t b = (f.bucket + count - dist) % count;
  for (uint32_t q = 0; q < dist; ++q, b = (b + 1) % count) {
    begin_write(b);
    uint64_t& meta = buckets_[b].meta;
    const uint64_t m = load_rlx(meta);
    if (meta_overflow(m) == 0) die("index overflow count underflow");
    store_rlx(meta, m - (1ull << 32));
    end_write(b);
  }
}

// --- accounting ---------------------------------------------------------------------------

uint64_t Store::slot_epoch() const {
  return load_rlx(header_->global_gen) + load_rlx(header_->db_gen[0]);
}

HashSlotCounters* Store::slot_counters(const RecordHeader& rh) {
  if (hash_slots_ == nullptr || rh.db != 0) return nullptr;
  HashSlotCounters& c = hash_slots_->counters[key_slot(record_key(&rh))];
  const uint64_t epoch = slot_epoch();
  if (c.epoch != epoch) c = HashSlotCounters{epoch, 0, 0, 0};  // flushed since: counts nothing
  return &c;
}

// (rh is the record in the arena: its key, which names its hash slot, follows it.)
void Store::account_add(const RecordHeader& rh, uint64_t offset) {
  const uint64_t rb = record_bytes(rh.key_len, rh.value_len);
  const bool main = offset >= layout_.small_bytes;
  add_rlx(header_->db_items[rh.db], uint64_t{1});
  add_rlx(header_->db_bytes[rh.db], rb);
  if (main) {
    add_rlx(header_->db_main_bytes[rh.db], rb);
    add_rlx(header_->main_live_bytes, rb);
  }
  if (HashSlotCounters* c = slot_counters(rh)) {
    c->items += 1;
    c->bytes += rb;
    if (main) c->main_bytes += rb;
  }
}

void Store::account_remove(const RecordHeader& rh, uint64_t offset) {
  if (rh.stamp != live_stamp(rh)) return;  // already subtracted by its flush
  const uint64_t rb = record_bytes(rh.key_len, rh.value_len);
  const bool main = offset >= layout_.small_bytes;
  add_rlx(header_->db_items[rh.db], ~uint64_t{0});
  add_rlx(header_->db_bytes[rh.db], 0 - rb);
  if (main) {
    add_rlx(header_->db_main_bytes[rh.db], 0 - rb);
    add_rlx(header_->main_live_bytes, 0 - rb);
  }
  if (HashSlotCounters* c = slot_counters(rh)) {
    c->items -= 1;
    c->bytes -= rb;
    if (main) c->main_bytes -= rb;
  }
}

void Store::zero_counters(uint32_t db) {
  Header& h = *header_;
  const uint32_t first = db == kMaxDbs ? 0 : db;
  const uint32_t last = db == kMaxDbs ? kMaxDbs : db + 1;
  for (uint32_t d = first; d < last; ++d) {
    add_rlx(h.main_live_bytes, 0 - load_rlx(h.db_main_bytes[d]));
    store_rlx(h.db_items[d], uint64_t{0});
    store_rlx(h.db_bytes[d], uint64_t{0});
    store_rlx(h.db_main_bytes[d], uint64_t{0});
  }
}

bool Store::reclaimable(const RecordHeader& rh, uint64_t now_rel) const {
  return rh.stamp != live_stamp(rh) || expired(rh, now_rel);
}

// --- index ----------------------------------------------------------------------------------

bool Store::find_locked(uint32_t db, std::string_view key, uint64_t h, Found* found) const {
  const uint64_t count = layout_.bucket_count;
  uint64_t b = home_bucket(h, count);
  for (uint32_t probe = 0; probe < kMaxProbe; ++probe, b = (b + 1) % count) {
    const Bucket& bucket = buckets_[b];
    for (uint32_t i = 0; i < kSlotsPerBucket; ++i) {
      const uint64_t s = load_rlx(bucket.slots[i]);
      if (s == 0 || !slot_tag_matches(s, h)) continue;
      const RecordHeader* rh = record_at(slot_offset(s));
      if (rh == nullptr || rh->db != db || record_key(rh) != key) continue;
      *found = Found{b, i, s, h};
      return true;
    }
    if (meta_overflow(load_rlx(bucket.meta)) == 0) return false;
  }
  return false;
}

bool Store::find_by_offset_locked(uint64_t offset, Found* found) const {
  const RecordHeader* rh = record_at(offset);
  if (rh == nullptr) return false;
  const uint64_t h = hash(rh->db, record_key(rh));
  const uint64_t count = layout_.bucket_count;
  uint64_t b = home_bucket(h, count);
  for (uint32_t probe = 0; probe < kMaxProbe; ++probe, b = (b + 1) % count) {
    const Bucket& bucket = buckets_[b];
    for (uint32_t i = 0; i < kSlotsPerBucket; ++i) {
      const uint64_t s = load_rlx(bucket.slots[i]);
      if (s != 0 && slot_offset(s) == offset) {
        *found = Found{b, i, s, h};
        return true;
      }
    }
    if (meta_overflow(load_rlx(bucket.meta)) == 0) return false;
  }
  return false;
}

// Publishes a new entry for hash h at arena `offset`: first free slot within kMaxProbe
// buckets, else a reclaimable (expired/flushed) one, else evicts the least-used entry of the
// home bucket.
bool Store::place_new_locked(uint64_t h, uint64_t offset, uint64_t now_rel) {
  const uint64_t count = layout_.bucket_count;
  const uint64_t home = home_bucket(h, count);
  uint64_t target = 0;
  uint32_t target_index = 0, dist = 0;
  bool have = false;
  for (uint32_t p = 0; p < kMaxProbe && !have; ++p) {
    const uint64_t b = (home + p) % count;
    for (uint32_t i = 0; i < kSlotsPerBucket; ++i) {
      if (load_rlx(buckets_[b].slots[i]) == 0) {
        target = b, target_index = i, dist = p, have = true;
        break;
      }
    }
  }
  for (uint32_t p = 0; p < kMaxProbe && !have; ++p) {
    const uint64_t b = (home + p) % count;
    for (uint32_t i = 0; i < kSlotsPerBucket; ++i) {
      const uint64_t s = load_rlx(buckets_[b].slots[i]);
      const RecordHeader* rh = record_at(slot_offset(s));
      if (rh != nullptr && !reclaimable(*rh, now_rel)) continue;
      if (rh != nullptr && rh->stamp == live_stamp(*rh)) {
        add_rlx(header_->expirations, uint64_t{1});
        account_remove(*rh, slot_offset(s));
      }
      remove_slot(Found{b, i, s, 0});
      target = b, target_index = i, dist = p, have = true;
      break;
    }
  }
  if (!have) {
    // Neighbourhood full of live entries: evict the coldest, preferring the small ring
    // (entries not yet proven useful) over main, then the lowest frequency.
    uint32_t best = ~0u;
    for (uint32_t p = 0; p < kMaxProbe; ++p) {
      const uint64_t b = (home + p) % count;
      for (uint32_t i = 0; i < kSlotsPerBucket; ++i) {
        const uint64_t s = load_rlx(buckets_[b].slots[i]);
        const uint32_t score = slot_freq(s) + (slot_offset(s) >= layout_.small_bytes ? 4 : 0);
        if (score < best) best = score, target = b, target_index = i, dist = p;
      }
    }
    const uint64_t s = load_rlx(buckets_[target].slots[target_index]);
    if (const RecordHeader* rh = record_at(slot_offset(s))) account_remove(*rh, slot_offset(s));
    add_rlx(header_->evictions, uint64_t{1});
    add_rlx(header_->index_evictions, uint64_t{1});
    remove_slot(Found{target, target_index, s, 0});
  }
  for (uint32_t q = 0; q < dist; ++q) {
    const uint64_t b = (home + q) % count;
    begin_write(b);
    const uint64_t m = load_rlx(buckets_[b].meta);
    if (meta_overflow(m) == 0xFFFF) die("index overflow count overflow");
    store_rlx(buckets_[b].meta, m + (1ull << 32));
    end_write(b);
  }
  store_slot(Found{target, target_index, 0, h}, make_slot(offset, 0, dist, h));
  return true;
}

// --- ghost table (writer only) ----------------------------------------------------------

void Store::ghost_insert(uint64_t h) {
  const uint64_t i = (((h >> 16) & 0xFFFFFFFFull) * layout_.ghost_count) >> 32;
  ghost_[i] = static_cast<uint32_t>(h >> 32) | 1;
}

bool Store::ghost_test_and_clear(uint64_t h) {
  const uint64_t i = (((h >> 16) & 0xFFFFFFFFull) * layout_.ghost_count) >> 32;
  if (ghost_[i] != (static_cast<uint32_t>(h >> 32) | 1)) return false;
  ghost_[i] = 0;
  return true;
}

// --- rings ------------------------------------------------------------------------------------

bool Store::ring_reserve(Ring* r, uint64_t bytes, uint64_t* offset) {
  if (r->used == 0) r->head = r->tail = r->begin, r->wrapped = 0, r->wrap = r->end;
  if (!r->wrapped) {
    if (r->end - r->head < bytes) {
      if (r->tail - r->begin < bytes) return false;
      r->wrap = r->head;  // the gap [wrap, end) stays unused until the tail passes it
      r->head = r->begin;
      r->wrapped = 1;
    }
  } else if (r->tail - r->head < bytes) {
    return false;
  }
  *offset = r->head;
  r->head += bytes;
  store_rlx(r->used, r->used + bytes);
  return true;
}

void Store::ring_pop(Ring* r, uint64_t bytes) {
  r->tail += bytes;
  store_rlx(r->used, r->used - bytes);
  if (r->wrapped && r->tail == r->wrap) r->tail = r->begin, r->wrapped = 0, r->wrap = r->end;
  if (r->used == 0) r->head = r->tail = r->begin, r->wrapped = 0, r->wrap = r->end;
}

bool Store::ring_can_reserve(const Ring& r, uint64_t bytes) const {
  if (r.used == 0) return r.end - r.begin >= bytes;
  if (!r.wrapped) return r.end - r.head >= bytes || r.tail - r.begin >= bytes;
  return r.tail - r.head >= bytes;
}

// True if the main ring can take `bytes` without evicting a live entry; dead or expired
// records at its tail are reclaimed on the way.
bool Store::main_has_room(uint64_t bytes) {
  Ring* m = &header_->main;
  if (load_rlx(header_->main_live_bytes) + bytes > m->end - m->begin) return false;
  for (int i = 0; i < 64; ++i) {
    if (ring_can_reserve(*m, bytes)) return true;
    if (m->used == 0) return false;
    const RecordHeader* rh = record_at(m->tail);
    if (rh == nullptr) return false;
    Found f;
    if (find_by_offset_locked(m->tail, &f) && !reclaimable(*rh, now_rel_)) return false;
    uint64_t moved = 0;
    evict_tail(m, false, &moved);  // dead or expired: reclaims, never evicts a live entry
  }
  return false;
}

bool Store::allocate(Ring* ring, uint64_t bytes, uint64_t* offset) {
  if (bytes > ring->end - ring->begin) return false;
  const bool is_small = ring == &header_->small;
  uint64_t moved = 0;
  while (!ring_reserve(ring, bytes, offset)) {
    if (ring->used == 0) return false;
    evict_tail(ring, is_small, &moved);
  }
  // Memory at *offset may still be read by a reader holding a stale slot; its bucket version
  // was bumped when that slot was cleared. Order those bumps before our new bytes.
  std::atomic_thread_fence(std::memory_order_release);
  return true;
}

// Processes the oldest record of `ring` (S3-FIFO): dead records are dropped; expired ones
// reclaimed; in the small ring an accessed entry moves to main, others are evicted into the
// ghost table; in the main ring an accessed entry is reinserted at the head with its
// frequency decremented, others are evicted.
void Store::evict_tail(Ring* ring, bool is_small, uint64_t* moved) {
  const uint64_t off = ring->tail;
  const uint64_t data_end = ring->wrapped ? ring->wrap : ring->head;
  const RecordHeader* rh = record_at(off);
  const uint64_t rb = rh ? record_bytes(rh->key_len, rh->value_len) : 0;
  if (rh == nullptr || off + rb > data_end) {
    // The arena does not hold what the ring says (corrupted segment): start over.
    reinitialize_locked();
    return;
  }
  Found f;
  if (!find_by_offset_locked(off, &f)) {
    ring_pop(ring, rb);  // dead: deleted, overwritten or dropped from the index
    return;
  }
  if (reclaimable(*rh, now_rel_)) {
    if (rh->stamp == live_stamp(*rh)) add_rlx(header_->expirations, uint64_t{1});
    account_remove(*rh, off);
    remove_slot(f);
    ring_pop(ring, rb);
    return;
  }
  const uint32_t freq = slot_freq(f.slot);
  // S3-FIFO evicts from the small queue only when the whole cache is full: while the main
  // ring's live bytes leave room, unaccessed small-ring entries move to main too.
  if (is_small && (freq > 0 || main_has_room(rb))) {
    uint64_t dst;
    const uint64_t reinits = load_rlx(header_->reinits);
    const bool ok = allocate(&header_->main, rb, &dst);
    if (load_rlx(header_->reinits) != reinits) {
      reinitialize_locked();  // corruption found meanwhile: drop the half-done move too
      return;
    }
    if (ok) {
      std::memcpy(arena_ + dst, arena_ + off, rb);
      const uint64_t s = load_rlx(buckets_[f.bucket].slots[f.index]);
      store_slot(f, make_slot(dst, slot_freq(s), slot_dist(s), f.hash));  // keeps its freq
      if (rh->stamp == live_stamp(*rh)) {
        add_rlx(header_->db_main_bytes[rh->db], rb);
        add_rlx(header_->main_live_bytes, rb);
        if (HashSlotCounters* c = slot_counters(*rh)) c->main_bytes += rb;
      }
      ring_pop(ring, rb);
      return;
    }
  } else if (!is_small && freq > 0 && *moved < ring->end - ring->begin) {
    *moved += rb;
    uint64_t dst;
    const uint64_t s = load_rlx(buckets_[f.bucket].slots[f.index]);
    const uint64_t reinserted_freq = slot_freq(s) > 0 ? slot_freq(s) - 1 : 0;
    if (ring_reserve(ring, rb, &dst)) {
      std::memcpy(arena_ + dst, arena_ + off, rb);
      store_slot(f, make_slot(dst, reinserted_freq, slot_dist(s), f.hash));
      ring_pop(ring, rb);
      return;
    }
    // No room at the head: the free gap is smaller than the record. Slide the record down
    // over the gap (overlapping move) inside its bucket's write section.
    if (!ring->wrapped) ring->wrap = ring->head, ring->head = ring->begin, ring->wrapped = 1;
    dst = ring->head;
    begin_write(f.bucket);
    std::memmove(arena_ + dst, arena_ + off, rb);
    store_rlx(buckets_[f.bucket].slots[f.index],
              make_slot(dst, reinserted_freq, slot_dist(s), f.hash));
    end_write(f.bucket);
    ring->head += rb;
    ring->tail += rb;
    if (ring->tail == ring->wrap)
      ring->tail = ring->begin, ring->wrapped = 0, ring->wrap = ring->end;
    return;
  }
  if (is_small) ghost_insert(f.hash);
  account_remove(*rh, off);
  add_rlx(header_->evictions, uint64_t{1});
  remove_slot(f);
  ring_pop(ring, rb);
}

// --- public mutators ----------------------------------------------------------------------

void Store::reinitialize_locked() {
  Header& h = *header_;
  store_rel(h.current_ms, uint64_t{0});  // vouched for again by the next owner
  store_rel(h.stale_window_ms, uint64_t{0});
  store_rel(h.global_gen, load_rlx(h.global_gen) + 1);
  for (uint64_t b = 0; b < layout_.bucket_count; ++b) {
    begin_write(b);
    for (auto& s : buckets_[b].slots) store_rlx(s, uint64_t{0});
    store_rlx(buckets_[b].meta, buckets_[b].meta & 0xFFFFFFFFull);  // overflow counts = 0
    end_write(b);
  }
  std::memset(ghost_, 0, layout_.ghost_count * sizeof(uint32_t));
  h.small = Ring{0, layout_.small_bytes, 0, 0, layout_.small_bytes, 0, 0, 0};
  h.main = Ring{layout_.small_bytes,
                layout_.arena_bytes,
                layout_.small_bytes,
                layout_.small_bytes,
                layout_.arena_bytes,
                0,
                0,
                0};
  zero_counters(kMaxDbs);
  store_rlx(h.main_live_bytes, uint64_t{0});
  add_rlx(h.reinits, uint64_t{1});
  std::atomic_thread_fence(std::memory_order_release);
}

bool Store::set(uint32_t db, std::string_view key, std::string_view value, uint64_t ttl_ms) {
  return put(db, key, value, ttl_ms, kRecordKind);
}

bool Store::set_absent(uint32_t db, std::string_view key, uint64_t ttl_ms) {
  return put(db, key, {}, ttl_ms, kAbsentKind);
}

bool Store::put(uint32_t db, std::string_view key, std::string_view value, uint64_t ttl_ms,
                uint8_t kind) {
  if (!owner_ || db >= kMaxDbs || key.size() > kMaxKeyBytes ||
      value.size() > layout_.max_item_bytes) {
    return false;
  }
  const uint64_t rb = record_bytes(key.size(), value.size());
  if (rb > layout_.max_record_bytes) return false;
  if (!lock()) return false;
  Header& hd = *header_;
  const uint64_t now = now_ms();
  uint64_t base = load_rlx(hd.base_ms);
  if (now > base && now - base > kRebaseAfterMs) {
    // Expiry offsets are u32 ms: start a new epoch. The generation bump (before the new
    // base is published) hides every entry written against the old base.
    store_rel(hd.global_gen, load_rlx(hd.global_gen) + 1);
    zero_counters(kMaxDbs);
    store_rel(hd.base_ms, now);
    base = now;
  }
  now_rel_ = now > base ? now - base : 0;
  if (layout_.max_ttl_ms != 0 && (ttl_ms == 0 || ttl_ms > layout_.max_ttl_ms)) {
    ttl_ms = layout_.max_ttl_ms;
  }
  uint64_t expire_rel = 0;
  if (ttl_ms != 0) expire_rel = std::min<uint64_t>(now_rel_ + ttl_ms, 0xFFFFFFFEull);

  const uint64_t h = hash(db, key);
  Found f;
  bool existed = find_locked(db, key, h, &f);
  // S3-FIFO admission: new keys enter the small ring unless the ghost remembers them; an
  // overwrite stays in the ring its predecessor was in.
  const bool to_main =
      existed ? slot_offset(f.slot) >= layout_.small_bytes : ghost_test_and_clear(h);
  uint64_t off;
  if (!allocate(to_main ? &hd.main : &hd.small, rb, &off)) {
    unlock();
    return false;
  }
  RecordHeader rh{};
  rh.value_len = static_cast<uint32_t>(value.size());
  rh.key_len = static_cast<uint16_t>(key.size());
  rh.db = static_cast<uint8_t>(db);
  rh.kind = kind;
  rh.stamp = current_stamp(db, stamp_slot(db, key));
  rh.expire_rel = static_cast<uint32_t>(expire_rel);
  unsigned char* dst = arena_ + off;
  std::memcpy(dst, &rh, sizeof(rh));
  std::memcpy(dst + sizeof(rh), key.data(), key.size());
  if (!value.empty())  // a negative entry's empty value may have no data pointer at all
    std::memcpy(dst + sizeof(rh) + key.size(), value.data(), value.size());
  const uint64_t used = sizeof(rh) + key.size() + value.size();
  std::memset(dst + used, 0, rb - used);

  existed = find_locked(db, key, h, &f);  // allocation may have moved or evicted it
  if (existed) {
    const RecordHeader* old = record_at(slot_offset(f.slot));
    if (old == nullptr) die("indexed record vanished");
    account_remove(*old, slot_offset(f.slot));
    const uint64_t s = load_rlx(buckets_[f.bucket].slots[f.index]);
    store_slot(f, make_slot(off, slot_freq(s), slot_dist(s), h));
  } else {
    place_new_locked(h, off, now_rel_);
  }
  account_add(*reinterpret_cast<const RecordHeader*>(dst), off);
  add_rlx(hd.sets, uint64_t{1});
  unlock();
  return true;
}

bool Store::del(uint32_t db, std::string_view key) {
  if (!owner_ || db >= kMaxDbs || key.size() > kMaxKeyBytes) return false;
  if (!lock()) return false;
  const uint64_t now = now_ms();
  const uint64_t base = load_rlx(header_->base_ms);
  now_rel_ = now > base ? now - base : 0;
  Found f;
  bool live = false;
  if (find_locked(db, key, hash(db, key), &f)) {
    const RecordHeader* rh = record_at(slot_offset(f.slot));
    live = !reclaimable(*rh, now_rel_);
    account_remove(*rh, slot_offset(f.slot));
    remove_slot(f);
    if (live) add_rlx(header_->deletes, uint64_t{1});
  }
  unlock();
  return live;
}

bool Store::flush_all() {
  if (!owner_ || !lock()) return false;
  Header& hd = *header_;
  store_rel(hd.global_gen, load_rlx(hd.global_gen) + 1);
  zero_counters(kMaxDbs);
  add_rlx(hd.flushes, uint64_t{1});
  unvouched_ = false;  // whatever an earlier refused invalidation was about is gone now
  unlock();
  return true;
}

bool Store::flush_db(uint32_t db) {
  if (!owner_ || db >= kMaxDbs || !lock()) return false;
  Header& hd = *header_;
  store_rel(hd.db_gen[db], load_rlx(hd.db_gen[db]) + 1);
  zero_counters(db);
  add_rlx(hd.flushes, uint64_t{1});
  unlock();
  return true;
}

bool Store::flush_slots(std::span<const uint16_t> slots) {
  if (!owner_ || hash_slots_ == nullptr || !lock()) return false;
  Header& hd = *header_;
  const uint64_t epoch = slot_epoch();
  for (uint16_t slot : slots) {
    if (slot >= kHashSlotCount) continue;
    store_rel(hash_slots_->gen[slot], load_rlx(hash_slots_->gen[slot]) + 1);
    HashSlotCounters& c = hash_slots_->counters[slot];
    if (c.epoch == epoch) {  // its live entries are db 0's: take them off
      add_rlx(hd.db_items[0], 0 - c.items);
      add_rlx(hd.db_bytes[0], 0 - c.bytes);
      add_rlx(hd.db_main_bytes[0], 0 - c.main_bytes);
      add_rlx(hd.main_live_bytes, 0 - c.main_bytes);
    }
    c = HashSlotCounters{epoch, 0, 0, 0};
    add_rlx(hd.slot_flushes, uint64_t{1});
  }
  unlock();
  return true;
}

size_t Store::reclaim_expired(size_t max_buckets) {
  if (!owner_ || !lock()) return 0;
  const uint64_t now = now_ms();
  const uint64_t base = load_rlx(header_->base_ms);
  now_rel_ = now > base ? now - base : 0;
  size_t reclaimed = 0;
  const uint64_t count = layout_.bucket_count;
  uint64_t b = load_rlx(header_->sweep_cursor) % count;
  for (size_t n = 0; n < max_buckets && n < count; ++n, b = (b + 1) % count) {
    for (uint32_t i = 0; i < kSlotsPerBucket; ++i) {
      const uint64_t s = load_rlx(buckets_[b].slots[i]);
      if (s == 0) continue;
      const RecordHeader* rh = record_at(slot_offset(s));
      if (rh != nullptr && !reclaimable(*rh, now_rel_)) continue;
      if (rh != nullptr && rh->stamp == live_stamp(*rh)) {
        add_rlx(header_->expirations, uint64_t{1});
        account_remove(*rh, slot_offset(s));
      }
      remove_slot(Found{b, i, s, 0});
      ++reclaimed;
    }
  }
  store_rlx(header_->sweep_cursor, b);
  unlock();
  return reclaimed;
}

}  // namespace tiercache::l1
