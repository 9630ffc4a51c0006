// The invalidation message every sidecar publishes after writes and every other sidecar applies:
// msgpack, versioned. One message carries the keys of many writes (batched per loop tick).
//
//   [ version=1, origin:uint64, seq:uint64, sent_at_us:uint64, [ [db, flush:bool, [key:bin...]],
//   ... ] ]
//
// origin identifies the publishing sidecar process (its own messages are skipped); seq
// increases by one per message of an origin (a gap means messages were lost); sent_at_us is the
// publisher's wall clock when the write was issued, for measuring propagation lag; a group with
// flush=true drops its whole db (db = kAllDbs for FLUSHALL) and has no keys; a group of keys
// with db = kAllDbs drops them in every db (MOVE, COPY ... DB write into another db).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tiercache::sidecar::invalidation {

inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kAllDbs = 0xffffffffu;

struct Group {
  uint32_t db = 0;
  bool flush = false;
  std::vector<std::string> keys;
};

struct Message {
  uint64_t origin = 0;
  uint64_t seq = 0;
  uint64_t sent_at_us = 0;
  std::vector<Group> groups;
};

// Limits a decoder enforces so a hostile or corrupt message cannot exhaust memory.
struct DecodeLimits {
  size_t max_groups = 1024;
  size_t max_keys = 1 << 20;
  size_t max_key_bytes = 1 << 20;
};

std::string encode(const Message& m);

// False with *error for anything but a well-formed version-1 message within the limits.
// Never throws.
bool decode(std::string_view data, Message* out, std::string* error,
            const DecodeLimits& limits = DecodeLimits{});

}  // namespace tiercache::sidecar::invalidation
