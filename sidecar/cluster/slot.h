// Redis Cluster's key space partition, as every cluster client computes it: a key's hash slot is
// CRC16 (XMODEM) of the key, or of its hash tag, modulo 16384. The hash tag is what lies between
// the first '{' and the first '}' after it, when that is not empty; keys that share a tag share
// a slot (that is how multi-key commands stay on one node). Pure functions, no allocation.
#pragma once

#include <cstdint>
#include <string_view>

namespace tiercache::sidecar::cluster {

inline constexpr int kSlots = 16384;

uint16_t crc16(std::string_view data);
// The part of key that is hashed: its hash tag, or the whole key.
std::string_view hashed_part(std::string_view key);
uint16_t key_slot(std::string_view key);

// A short hash tag (1 to 4 characters of [0-9a-z], no braces) whose CRC16 lands in slot: a key
// with "{" + slot_tag(s) + "}" in it lives in slot s, so the sidecar can address a key to any
// master it likes (the per-master heartbeat keys, invalidation/cluster_source.h). The table
// behind it is built once, on first use, by searching the shortest strings first; the view is
// valid for the life of the process. slot must be < kSlots.
std::string_view slot_tag(uint16_t slot);

}  // namespace tiercache::sidecar::cluster
