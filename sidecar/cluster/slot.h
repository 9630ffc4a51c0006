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

}  // namespace tiercache::sidecar::cluster
