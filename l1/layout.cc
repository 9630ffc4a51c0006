// L1 layout arithmetic: derives the segment geometry from its size and checksums the header.
#include "l1/layout.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace tiercache::l1 {

namespace {
constexpr uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
constexpr uint64_t round_down(uint64_t v, uint64_t a) { return v / a * a; }
// Target index load at the expected item size; 7 slots per bucket.
constexpr uint64_t kLoadPerMille = 820;
constexpr uint64_t kGhostPerBucket = 8;  // u32 fingerprints per index bucket
}  // namespace

bool compute_layout(uint64_t total_bytes, uint64_t expected_item_bytes, uint64_t max_item_bytes,
                    uint64_t max_ttl_ms, bool hash_slots, Layout* out) {
  if (total_bytes < kMinSegmentBytes || total_bytes > kMaxSegmentBytes) return false;
  if (expected_item_bytes == 0) expected_item_bytes = 1;
  if (expected_item_bytes > (1u << 20)) expected_item_bytes = 1u << 20;
  Layout l{};
  l.total_bytes = total_bytes;
  l.header_bytes = round_up(sizeof(Header), 4096);
  if (hash_slots) {
    l.hash_slot_offset = l.header_bytes;
    l.hash_slot_count = kHashSlotCount;
  }
  const uint64_t head = l.header_bytes + (hash_slots ? sizeof(HashSlotRegion) : 0);
  if (head + 4096 > total_bytes) return false;
  const uint64_t body = total_bytes - head;
  // Bytes one bucket "pays for": itself, its ghost share and the records of its items.
  const uint64_t per_bucket =
      sizeof(Bucket) + kGhostPerBucket * sizeof(uint32_t) +
      kSlotsPerBucket * kLoadPerMille * record_bytes(0, expected_item_bytes) / 1000;
  l.bucket_count = body / per_bucket;
  if (l.bucket_count < kMaxProbe) l.bucket_count = kMaxProbe;
  l.bucket_offset = head;
  l.ghost_offset = l.bucket_offset + l.bucket_count * sizeof(Bucket);
  l.ghost_count = l.bucket_count * kGhostPerBucket;
  l.arena_offset = round_up(l.ghost_offset + l.ghost_count * sizeof(uint32_t), 64);
  if (l.arena_offset + 4096 > total_bytes) return false;
  l.arena_bytes = round_down(total_bytes - l.arena_offset, 64);
  l.small_bytes = round_down(l.arena_bytes / 10, kArenaUnit);
  l.max_record_bytes = round_down(l.small_bytes / 2, kArenaUnit);
  l.max_item_bytes = max_item_bytes;
  l.max_ttl_ms = max_ttl_ms;
  *out = l;
  return true;
}

uint64_t header_checksum(const Header& h) {
  return XXH64(&h, offsetof(Header, static_checksum), 0x7469657263616368ull);
}

}  // namespace tiercache::l1
