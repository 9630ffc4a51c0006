// The sidecar's counters (INFO's stats section, info.cc), bumped by every path.
#pragma once

#include <cstdint>

namespace tiercache::sidecar {

struct SidecarStats {
  uint64_t connections_received = 0;
  uint64_t rejected_connections = 0;
  uint64_t commands = 0;
  uint64_t l1_hits = 0;
  uint64_t l1_misses = 0;
  uint64_t l1_bypassed = 0;       // reads not served from L1 because the bus was unhealthy
  uint64_t l1_negative_hits = 0;  // l1_hits that found a negative entry (the key is absent)
  uint64_t stale_answers = 0;     // l1_hits answered in fail-safe (L2 unreachable)
  uint64_t fail_safe_entered = 0;
  uint64_t fills = 0;             // values put in L1 from L2
  uint64_t negative_fills = 0;    // negative entries put in L1 (keys the L2 said are absent)
  uint64_t fills_discarded = 0;   // fills refused by the guard (invalidated while in flight)
  uint64_t fills_untracked = 0;   // of those: keys outside --track-prefix, never cached
  uint64_t coalesced_misses = 0;  // misses that joined a fetch already in flight
  uint64_t l2_fetches = 0;
  uint64_t writes = 0;
  uint64_t write_batches = 0;
  uint64_t invalidation_messages_sent = 0;
  uint64_t invalidated_keys_sent = 0;
  uint64_t invalidated_keys_received = 0;
  uint64_t l1_flushes = 0;
  uint64_t l1_slots_flushed = 0;  // hash slots dropped (l2-mode cluster: a master lost, moves)
  uint64_t passthrough = 0;
  uint64_t l2_errors = 0;  // client requests answered with an L2 error (down, timeout)
  uint64_t protocol_errors = 0;
  uint64_t security_closes = 0;
  uint64_t query_buffer_limit_disconnections = 0;
  uint64_t output_buffer_limit_disconnections = 0;
  uint64_t dedicated_links_opened = 0;   // clients' own L2 connections (pinned.cc)
  uint64_t dedicated_links_refused = 0;  // over max-dedicated-links
};

}  // namespace tiercache::sidecar
