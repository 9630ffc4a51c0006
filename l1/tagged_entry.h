// The stored layout of a tagged cache entry (python/tiercache/features.py writes it; the
// direct reader, python/l1module.cc, checks it): a header of tag keys and the tokens they had
// when the value was computed, then the value's own bytes. Reading it here lets a tagged get
// confirm its tags with L1 lookups in C and decode only the value.
//
//   "\x00tcE1"  u8 tag count  f64 expires_at  f64 refresh_at   (NaN: none; little-endian)
//   per tag: u16 key length, key, u16 token length, token
//   the value's bytes (the rest)
//
// The bytes come from shared memory any process of the host can write: every length is
// checked against what is there (tests/l1/fuzz_tagged_entry.cc).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace tiercache::l1 {

inline constexpr std::string_view kTaggedMagic{"\x00tcE1", 5};

struct TaggedEntry {
  unsigned tags = 0;
  std::string_view tag_bytes;  // the tags' records, checked: walk them with next_tag
  std::optional<double> expires_at, refresh_at;
  std::string_view value;
};

inline bool is_tagged_entry(std::string_view raw) { return raw.starts_with(kTaggedMagic); }

namespace tagged_detail {
inline bool take(std::string_view* in, size_t n, std::string_view* out) {
  if (in->size() < n) return false;
  *out = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}
inline bool take_u16_prefixed(std::string_view* in, std::string_view* out) {
  std::string_view len;
  if (!take(in, 2, &len)) return false;
  const size_t n =
      static_cast<uint8_t>(len[0]) | (static_cast<size_t>(static_cast<uint8_t>(len[1])) << 8);
  return take(in, n, out);
}
inline std::optional<double> f64(std::string_view b) {
  uint64_t bits = 0;
  for (int i = 7; i >= 0; --i) bits = (bits << 8) | static_cast<uint8_t>(b[i]);
  double d;
  std::memcpy(&d, &bits, sizeof d);
  if (std::isnan(d)) return std::nullopt;
  return d;
}
}  // namespace tagged_detail

// The next tag of a parsed entry's tag_bytes (which it consumes); false when none is left.
inline bool next_tag(std::string_view* tag_bytes, std::string_view* key, std::string_view* token) {
  return tagged_detail::take_u16_prefixed(tag_bytes, key) &&
         tagged_detail::take_u16_prefixed(tag_bytes, token);
}

// False if raw is not a well-formed tagged entry (no magic, or a length past the end).
inline bool parse_tagged_entry(std::string_view raw, TaggedEntry* out) {
  using namespace tagged_detail;
  std::string_view in = raw, magic, count, exp, refresh;
  if (!take(&in, kTaggedMagic.size(), &magic) || magic != kTaggedMagic) return false;
  if (!take(&in, 1, &count) || !take(&in, 8, &exp) || !take(&in, 8, &refresh)) return false;
  out->tags = static_cast<uint8_t>(count[0]);
  out->expires_at = f64(exp);
  out->refresh_at = f64(refresh);
  const std::string_view tags_start = in;
  std::string_view key, token;
  for (unsigned i = 0; i < out->tags; ++i)
    if (!next_tag(&in, &key, &token)) return false;
  out->tag_bytes = tags_start.substr(0, tags_start.size() - in.size());
  out->value = in;
  return true;
}

}  // namespace tiercache::l1
