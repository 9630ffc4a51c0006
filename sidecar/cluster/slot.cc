// slot_tag: the shortest hash tag of each slot, searched once (CRC16 is l1/hash_slot.h's).
#include "sidecar/cluster/slot.h"

#include <array>

namespace tiercache::sidecar::cluster {

namespace {

// Tags of up to kMaxTag characters, NUL-terminated; [0]==0 for a slot not reached yet.
constexpr int kMaxTag = 4;
using Tag = std::array<char, kMaxTag + 1>;
constexpr std::string_view kTagAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz";

// Walks every string over the alphabet of length 1, then 2, ... (the shortest tag wins) until
// each slot has one. Four characters (36^4 strings) are far more than enough: CRC16 spreads them
// over all 16384 slots (checked for every slot by tests/sidecar/cluster_test.cc).
std::array<Tag, kSlots> build_tags() {
  std::array<Tag, kSlots> tags{};
  int filled = 0;
  for (int len = 1; len <= kMaxTag && filled < kSlots; ++len) {
    std::array<size_t, kMaxTag> digit{};
    Tag s{};
    for (;;) {
      for (int i = 0; i < len; ++i) s[i] = kTagAlphabet[digit[i]];
      const uint16_t slot = static_cast<uint16_t>(crc16({s.data(), static_cast<size_t>(len)}) &
                                                  (kSlots - 1));
      if (tags[slot][0] == 0) {
        tags[slot] = s;
        if (++filled == kSlots) break;
      }
      int i = 0;  // next string of this length (odometer)
      while (i < len && ++digit[i] == kTagAlphabet.size()) digit[i++] = 0;
      if (i == len) break;
    }
  }
  return tags;
}

}  // namespace

std::string_view slot_tag(uint16_t slot) {
  static const std::array<Tag, kSlots> tags = build_tags();
  return {tags[slot].data()};
}

}  // namespace tiercache::sidecar::cluster
