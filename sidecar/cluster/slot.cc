// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), as Redis's src/crc16.c, and the
// hash-tag rule of Redis's keyHashSlot (src/cluster.c).
#include "sidecar/cluster/slot.h"

#include <array>

namespace tiercache::sidecar::cluster {
namespace {

constexpr std::array<uint16_t, 256> make_table() {
  std::array<uint16_t, 256> t{};
  for (int i = 0; i < 256; ++i) {
    uint16_t crc = static_cast<uint16_t>(i << 8);
    for (int bit = 0; bit < 8; ++bit)
      crc = static_cast<uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    t[i] = crc;
  }
  return t;
}

constexpr std::array<uint16_t, 256> kTable = make_table();

}  // namespace

uint16_t crc16(std::string_view data) {
  uint16_t crc = 0;
  for (unsigned char c : data)
    crc = static_cast<uint16_t>((crc << 8) ^ kTable[((crc >> 8) ^ c) & 0xff]);
  return crc;
}

std::string_view hashed_part(std::string_view key) {
  size_t open = key.find('{');
  if (open == std::string_view::npos) return key;
  size_t close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

uint16_t key_slot(std::string_view key) {
  return static_cast<uint16_t>(crc16(hashed_part(key)) & (kSlots - 1));
}

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
