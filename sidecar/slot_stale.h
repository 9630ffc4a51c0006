// Fail-safe per hash slot (l2-mode cluster with --stale-if-error-ms; fail_safe.cc drives it).
// When one master's tracking connection is lost, its slots' L1 entries are kept and answered as
// stale (never filled) while that master was last vouched for (its last heartbeat seen back)
// at most window_ms ago, the same rule as the whole L1's fail-safe; the other masters' slots
// are served as usual. A slot's window closes, and the sidecar drops the slot from L1, when it
// expires, when the slot's master answers on the data link again (a probe), when the master's
// tracking is set up again, or when the slot changes owner (a failover's promotion). This class
// is the bookkeeping only: which slots are open and since when.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "sidecar/cluster/slot.h"

namespace tiercache::sidecar {

class SlotStaleWindows {
 public:
  explicit SlotStaleWindows(uint64_t window_ms) : window_ms_(window_ms) {}

  // Slots whose master's tracking was lost, last vouched for at vouched_ms (0: not since it
  // was last set up). A slot already open keeps its earlier time; the others open if
  // vouched_ms is within the window of now_ms, else (and always with a window of 0) they are
  // appended to *drop.
  void open(std::span<const uint16_t> slots, uint64_t vouched_ms, uint64_t now_ms,
            std::vector<uint16_t>* drop);
  // The slots were dropped from L1: no longer open.
  void close(std::span<const uint16_t> slots);
  // Open, and within the window at now_ms: L1 may answer the slot's keys (stale).
  bool answers(uint16_t slot, uint64_t now_ms) const {
    const uint64_t since = since_[slot];
    return since != 0 && now_ms <= since + window_ms_;
  }
  size_t open_count() const { return open_; }
  // Open slots whose window has expired at now_ms, or that `same` says (e.g. served by a
  // master that answers again): closed and appended to *drop.
  void expire(uint64_t now_ms, std::vector<uint16_t>* drop);
  void close_if(const std::function<bool(uint16_t)>& same, std::vector<uint16_t>* drop);
  // The first open slot at or after `from`, wrapping around (probes take turns); -1: none.
  int next_open(int from) const;

 private:
  uint64_t window_ms_;
  std::array<uint64_t, cluster::kSlots> since_{};  // the master last vouched for; 0: closed
  size_t open_ = 0;
};

}  // namespace tiercache::sidecar
