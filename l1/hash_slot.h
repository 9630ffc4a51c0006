// Redis Cluster's key space partition, as every cluster client computes it: a key's hash slot is
// CRC16 (XMODEM) of the key, or of its hash tag, modulo 16384. The hash tag is what lies between
// the first '{' and the first '}' after it, when that is not empty; keys that share a tag share
// a slot (that is how multi-key commands stay on one node). Pure functions, no allocation.
// It lives in l1/ because L1's per-slot generations (Options::hash_slot_generations) need it and
// l1/ sees no other layer; the sidecar's cluster code uses this one implementation too
// (sidecar/cluster/slot.h).
#pragma once

#include <cstdint>
#include <string_view>

namespace tiercache::l1 {

inline constexpr int kHashSlots = 16384;

uint16_t crc16(std::string_view data);
// The part of key that is hashed: its hash tag, or the whole key.
std::string_view hashed_part(std::string_view key);
uint16_t key_slot(std::string_view key);

}  // namespace tiercache::l1
