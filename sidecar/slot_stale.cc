// SlotStaleWindows (see slot_stale.h).
#include "sidecar/slot_stale.h"

namespace tiercache::sidecar {

void SlotStaleWindows::open(std::span<const uint16_t> slots, uint64_t vouched_ms,
                            uint64_t now_ms, std::vector<uint16_t>* drop) {
  const bool within = window_ms_ > 0 && vouched_ms != 0 && now_ms <= vouched_ms + window_ms_;
  for (uint16_t s : slots) {
    if (since_[s] != 0) continue;
    if (!within) {
      drop->push_back(s);
      continue;
    }
    since_[s] = vouched_ms;
    ++open_;
  }
}

void SlotStaleWindows::close(std::span<const uint16_t> slots) {
  if (open_ == 0) return;
  for (uint16_t s : slots)
    if (since_[s] != 0) {
      since_[s] = 0;
      --open_;
    }
}

void SlotStaleWindows::expire(uint64_t now_ms, std::vector<uint16_t>* drop) {
  close_if([&](uint16_t s) { return !answers(s, now_ms); }, drop);
}

void SlotStaleWindows::close_if(const std::function<bool(uint16_t)>& same,
                                std::vector<uint16_t>* drop) {
  for (int s = 0; s < cluster::kSlots && open_ > 0; ++s) {
    const auto slot = static_cast<uint16_t>(s);
    if (since_[slot] == 0 || !same(slot)) continue;
    since_[slot] = 0;
    --open_;
    drop->push_back(slot);
  }
}

int SlotStaleWindows::next_open(int from) const {
  if (open_ == 0) return -1;
  for (int i = 0; i < cluster::kSlots; ++i) {
    const int s = (from + i) % cluster::kSlots;
    if (since_[static_cast<size_t>(s)] != 0) return s;
  }
  return -1;
}

}  // namespace tiercache::sidecar
