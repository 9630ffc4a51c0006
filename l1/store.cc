// L1 read path: lock-free get and scan (seqlock per index bucket), stats, shared helpers.
#include "l1/store.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "l1/hash_slot.h"

namespace tiercache::l1 {

namespace {

constexpr int kMaxReadRetries = 4096;  // then report a miss (e.g. a writer died mid-write)

template <class T>
T load_acq(const T& v) {
  return std::atomic_ref<T>(const_cast<T&>(v)).load(std::memory_order_acquire);
}
template <class T>
T load_rlx(const T& v) {
  return std::atomic_ref<T>(const_cast<T&>(v)).load(std::memory_order_relaxed);
}
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Home bucket of a hash: multiply-shift range reduction of its low 32 bits.
inline uint64_t home_bucket(uint64_t h, uint64_t count) {
  return ((h & 0xFFFFFFFFull) * count) >> 32;
}

}  // namespace

uint64_t Store::hash(uint32_t db, std::string_view key) const {
  return XXH3_64bits_withSeed(key.data(), key.size(), 0x9E3779B97F4A7C15ull * (db + 1));
}

int Store::stamp_slot(uint32_t db, std::string_view key) const {
  return hash_slots_ != nullptr && db == 0 ? key_slot(key) : -1;
}

uint32_t Store::current_stamp(uint32_t db, int hslot) const {
  uint64_t s = load_acq(header_->global_gen) + load_acq(header_->db_gen[db]);
  if (hslot >= 0) s += load_acq(hash_slots_->gen[hslot]);
  return static_cast<uint32_t>(s);
}

uint32_t Store::live_stamp(const RecordHeader& rh) const {
  return current_stamp(rh.db, stamp_slot(rh.db, record_key(&rh)));
}

bool Store::expired(const RecordHeader& rh, uint64_t now_rel) const {
  if (rh.expire_rel == 0) return false;
  if (now_rel >= rh.expire_rel) return true;
  // A backwards clock jump must not extend an entry beyond the TTL cap.
  return layout_.max_ttl_ms != 0 && rh.expire_rel - now_rel > layout_.max_ttl_ms;
}

const RecordHeader* Store::record_at(uint64_t offset) const {
  if (offset > layout_.arena_bytes || layout_.arena_bytes - offset < sizeof(RecordHeader)) {
    return nullptr;
  }
  const auto* rh = reinterpret_cast<const RecordHeader*>(arena_ + offset);
  if (!known_kind(rh->kind) || rh->value_len > layout_.max_record_bytes) return nullptr;
  if (record_bytes(rh->key_len, rh->value_len) > layout_.arena_bytes - offset) return nullptr;
  return rh;
}

std::string_view Store::record_key(const RecordHeader* rh) const {
  return {reinterpret_cast<const char*>(rh + 1), rh->key_len};
}

GetResult Store::get(uint32_t db, std::string_view key, std::string* value_out,
                     uint64_t* ttl_left_ms) {
  Header& hd = *header_;
  const bool reader = options_.mode == OpenMode::kReader;
  auto miss = [&] {
    std::atomic_ref<uint64_t>(reader ? hd.reader_misses : hd.misses)
        .fetch_add(1, std::memory_order_relaxed);
    return GetResult::kMiss;
  };
  if (db >= kMaxDbs || key.size() > kMaxKeyBytes) return miss();
  if (load_acq(hd.state) == kStateRetired) return miss();
  // (A reader's owner check is made once, after the copy below: one clock read per lookup.)
  const uint64_t now = now_ms();
  // Generation and base time first: a flush or rebase racing with this read makes it a miss.
  const uint64_t gen = load_acq(hd.global_gen);
  const int hslot = stamp_slot(db, key);  // -1 (no CRC16) unless per-slot generations
  const uint32_t stamp = static_cast<uint32_t>(
      gen + load_acq(hd.db_gen[db]) + (hslot >= 0 ? load_acq(hash_slots_->gen[hslot]) : 0));
  const uint64_t base = load_acq(hd.base_ms);
  const uint64_t now_rel = now > base ? now - base : 0;
  const uint64_t h = hash(db, key);
  const uint64_t count = layout_.bucket_count;
  const uint64_t arena_bytes = layout_.arena_bytes;
  uint64_t b = home_bucket(h, count);
  int budget = kMaxReadRetries;

  for (uint32_t probe = 0; probe < kMaxProbe; ++probe, b = (b + 1 == count) ? 0 : b + 1) {
    Bucket& bucket = buckets_[b];
    for (;;) {
      const uint64_t m1 = load_acq(bucket.meta);
      if (m1 & 1) {
        if (--budget == 0) return miss();
        cpu_relax();
        continue;
      }
      // Copy out under the version; every length comes from shared memory and is bounded
      // before use, so a concurrent (or corrupt) record can at worst fail validation.
      bool candidate = false;
      uint32_t cand_index = 0;
      uint64_t cand_slot = 0;
      RecordHeader rh{};
      for (uint32_t i = 0; i < kSlotsPerBucket; ++i) {
        const uint64_t s = load_rlx(bucket.slots[i]);
        if (s == 0 || !slot_tag_matches(s, h)) continue;
        const uint64_t off = slot_offset(s);
        if (off > arena_bytes || arena_bytes - off < sizeof(RecordHeader)) continue;
        std::memcpy(&rh, arena_ + off, sizeof(rh));
        if (!known_kind(rh.kind) || rh.key_len != key.size() || rh.db != db ||
            rh.value_len > layout_.max_item_bytes || (rh.kind == kAbsentKind && rh.value_len) ||
            record_bytes(rh.key_len, rh.value_len) > arena_bytes - off) {
          continue;
        }
        const unsigned char* rec = arena_ + off + sizeof(RecordHeader);
        if (std::memcmp(rec, key.data(), key.size()) != 0) continue;
        value_out->resize(rh.value_len);
        std::memcpy(value_out->data(), rec + rh.key_len, rh.value_len);
        candidate = true;
        cand_index = i;
        cand_slot = s;
        break;
      }
      std::atomic_thread_fence(std::memory_order_acquire);
      if (load_rlx(bucket.meta) != m1) {
        if (--budget == 0) return miss();
        continue;  // a writer touched the bucket meanwhile: copy again
      }
      if (candidate) {
        // The copy is consistent. Visible only if of the current generation and unexpired,
        // judged again now that the copy is done: a flush (of all, this db or slot) or the owner
        // falling silent while this reader was between its checks and its copy makes it a miss.
        const Trust trust = reader ? owner_trust(load_acq(hd.state)) : Trust::kFresh;
        if (rh.stamp != stamp || expired(rh, now_rel) || current_stamp(db, hslot) != stamp ||
            load_acq(hd.global_gen) != gen || trust == Trust::kNone) {
          return miss();
        }
        if (ttl_left_ms != nullptr) {
          *ttl_left_ms = rh.expire_rel == 0 ? UINT64_MAX : rh.expire_rel - now_rel;
        }
        const uint32_t freq = slot_freq(cand_slot);
        if (freq < kMaxFreq) {  // S3-FIFO access bit; a lost update only loses a hint
          uint64_t expected = cand_slot;
          std::atomic_ref<uint64_t>(bucket.slots[cand_index])
              .compare_exchange_strong(expected, slot_with_freq(cand_slot, freq + 1),
                                       std::memory_order_relaxed);
        }
        std::atomic_ref<uint64_t>(reader ? hd.reader_hits : hd.hits)
            .fetch_add(1, std::memory_order_relaxed);
        if (reader && trust == Trust::kStale)
          std::atomic_ref<uint64_t>(hd.reader_stale_hits).fetch_add(1, std::memory_order_relaxed);
        if (rh.kind == kAbsentKind) {
          if (reader)
            std::atomic_ref<uint64_t>(hd.reader_negative_hits)
                .fetch_add(1, std::memory_order_relaxed);
          return GetResult::kAbsent;
        }
        return GetResult::kHit;
      }
      if (meta_overflow(m1) == 0) return miss();
      break;  // entries homed here continue in the next bucket
    }
  }
  return miss();
}

Store::Trust Store::owner_trust(uint32_t state) const {
  // Only a live owner applies invalidations: without one, entries may be stale.
  if (options_.reader_max_staleness_ms == 0) return Trust::kFresh;
  if (state != kStateInUse) return Trust::kNone;
  const uint64_t as_of = load_acq(header_->current_ms);
  const uint64_t now = steady_now_ms();
  // A vouch from the future (another boot's clock, corruption) is not trusted either.
  if (as_of == 0 || as_of > now + 1000) return Trust::kNone;
  const uint64_t age = now - std::min(now, as_of);
  // In fail-safe the owner's window is the rule, as it is for the owner's own answers.
  const uint64_t window = load_acq(header_->stale_window_ms);
  if (window != 0) return age <= window ? Trust::kStale : Trust::kNone;
  return age <= options_.reader_max_staleness_ms ? Trust::kFresh : Trust::kNone;
}

bool Store::serving() const {
  const uint32_t state = load_acq(header_->state);
  return state != kStateRetired && owner_trust(state) != Trust::kNone;
}

uint64_t Store::vouched_ms() const { return load_acq(header_->current_ms); }

uint64_t Store::scan(uint64_t cursor, size_t count, std::vector<ScanEntry>* out) {
  const uint64_t buckets = layout_.bucket_count;
  if (cursor >= buckets) return 0;
  const uint64_t end = count == 0 || buckets - cursor < count ? buckets : cursor + count;
  const uint64_t gen = load_acq(header_->global_gen);
  const uint64_t base = load_acq(header_->base_ms);
  const uint64_t now = now_ms();
  const uint64_t now_rel = now > base ? now - base : 0;
  std::vector<ScanEntry> found;
  for (uint64_t b = cursor; b < end; ++b) {
    Bucket& bucket = buckets_[b];
    for (int attempt = 0; attempt < kMaxReadRetries; ++attempt) {
      const uint64_t m1 = load_acq(bucket.meta);
      if (m1 & 1) {
        cpu_relax();
        continue;
      }
      found.clear();
      for (uint32_t i = 0; i < kSlotsPerBucket; ++i) {
        const uint64_t s = load_rlx(bucket.slots[i]);
        if (s == 0) continue;
        const uint64_t off = slot_offset(s);
        if (off > layout_.arena_bytes || layout_.arena_bytes - off < sizeof(RecordHeader)) {
          continue;
        }
        RecordHeader rh;
        std::memcpy(&rh, arena_ + off, sizeof(rh));
        if (!known_kind(rh.kind) || record_bytes(rh.key_len, 0) > layout_.arena_bytes - off) {
          continue;
        }
        const std::string_view key(reinterpret_cast<const char*>(arena_ + off + sizeof(rh)),
                                   rh.key_len);
        const int hslot = stamp_slot(rh.db, key);
        const uint64_t want = gen + load_acq(header_->db_gen[rh.db]) +
                              (hslot >= 0 ? load_acq(hash_slots_->gen[hslot]) : 0);
        if (rh.stamp != static_cast<uint32_t>(want) || expired(rh, now_rel)) continue;
        found.push_back(ScanEntry{rh.db, std::string(key)});
      }
      std::atomic_thread_fence(std::memory_order_acquire);
      if (load_rlx(bucket.meta) == m1) {
        for (auto& e : found) out->push_back(std::move(e));
        break;
      }
    }
  }
  return end == buckets ? 0 : end;
}

Stats Store::stats() const {
  const Header& h = *header_;
  Stats s;
  for (uint32_t db = 0; db < kMaxDbs; ++db) {
    s.items += load_rlx(h.db_items[db]);
    s.bytes_used += load_rlx(h.db_bytes[db]);
  }
  s.arena_bytes_held = load_rlx(h.small.used) + load_rlx(h.main.used);
  s.capacity_bytes = layout_.arena_bytes;
  s.hits = load_rlx(h.hits);
  s.misses = load_rlx(h.misses);
  s.reader_hits = load_rlx(h.reader_hits);
  s.reader_misses = load_rlx(h.reader_misses);
  s.reader_negative_hits = load_rlx(h.reader_negative_hits);
  s.reader_stale_hits = load_rlx(h.reader_stale_hits);
  s.evictions = load_rlx(h.evictions);
  s.index_evictions = load_rlx(h.index_evictions);
  s.expirations = load_rlx(h.expirations);
  s.sets = load_rlx(h.sets);
  s.deletes = load_rlx(h.deletes);
  s.flushes = load_rlx(h.flushes);
  s.slot_flushes = load_rlx(h.slot_flushes);
  s.reinits = load_rlx(h.reinits);
  return s;
}

bool Store::dynamic_sound() const {
  const Header& h = *header_;
  auto ring_ok = [](const Ring& r, uint64_t begin, uint64_t end) {
    if (r.begin != begin || r.end != end || r.wrapped > 1) return false;
    if (r.head < begin || r.head > end || r.tail < begin || r.tail > end) return false;
    if (r.wrap < begin || r.wrap > end) return false;
    if ((r.head | r.tail | r.wrap) % kArenaUnit != 0) return false;
    if (!r.wrapped) return r.tail <= r.head && r.used == r.head - r.tail;
    return r.head <= r.tail && r.tail <= r.wrap && r.used == (r.wrap - r.tail) + (r.head - r.begin);
  };
  return ring_ok(h.small, 0, layout_.small_bytes) &&
         ring_ok(h.main, layout_.small_bytes, layout_.arena_bytes);
}

}  // namespace tiercache::l1
