// LZF compression and decompression, for the compressed strings of RDB files and DUMP payloads
// (Redis writes strings longer than 20 bytes LZF-compressed when rdbcompression is on, if that
// saves space). Decompression is bounds-checked: its input is untrusted.
#pragma once

#include <string>
#include <string_view>

namespace tiercache::l2::persistence {

// Decompresses `in` into exactly `out_len` bytes appended to *out. False when the data is
// malformed or does not decompress to exactly out_len bytes.
bool lzf_decompress(std::string_view in, size_t out_len, std::string* out);

// Compresses `in` and appends the result to *out when it takes at most `max_len` bytes; returns
// the compressed length, or 0 (and *out as it was) when it would not fit.
size_t lzf_compress(std::string_view in, size_t max_len, std::string* out);

}  // namespace tiercache::l2::persistence
