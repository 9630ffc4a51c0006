// For fuzz targets that feed arbitrary bytes to hiredis's reader (tracking_push_fuzz.cc,
// sentinel_reply_fuzz.cc): hiredis 0.14's reader allocates a multi-bulk's element array as soon
// as it reads the header (it has no max-elements limit; hiredis 1.0 added one), so "*666666660"
// exhausts memory in the reader, not in the code under test (fresh-clone run r31: libFuzzer's
// out-of-memory in fuzz_sentinel_reply). Such inputs are skipped; a hostile L2 is a known limit
// of that reader.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tiercache::fuzz {

// True when the bytes declare an array of more than `limit` elements anywhere.
inline bool declares_huge_array(const uint8_t* data, size_t size, uint64_t limit = 4096) {
  for (size_t i = 0; i < size; ++i) {
    if (data[i] != '*') continue;
    uint64_t n = 0;
    for (size_t j = i + 1; j < size && data[j] >= '0' && data[j] <= '9' && n <= limit; ++j)
      n = n * 10 + (data[j] - '0');
    if (n > limit) return true;
  }
  return false;
}

}  // namespace tiercache::fuzz
