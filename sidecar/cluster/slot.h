// Redis Cluster's key space partition for the sidecar's cluster code: a key's hash slot (CRC16 of
// the key or its hash tag, modulo 16384) is l1/hash_slot.h's, the one implementation (L1's
// per-slot generations need it too), named here; and slot_tag, a key addressed to any slot.
#pragma once

#include <cstdint>
#include <string_view>

#include "l1/hash_slot.h"

namespace tiercache::sidecar::cluster {

inline constexpr int kSlots = l1::kHashSlots;

using l1::crc16;
using l1::hashed_part;  // the part of a key that is hashed: its hash tag, or the whole key
using l1::key_slot;

// A short hash tag (1 to 4 characters of [0-9a-z], no braces) whose CRC16 lands in slot: a key
// with "{" + slot_tag(s) + "}" in it lives in slot s, so the sidecar can address a key to any
// master it likes (the per-master heartbeat keys, invalidation/cluster_source.h). The table
// behind it is built once, on first use, by searching the shortest strings first; the view is
// valid for the life of the process. slot must be < kSlots.
std::string_view slot_tag(uint16_t slot);

}  // namespace tiercache::sidecar::cluster
