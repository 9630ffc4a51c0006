// LZF decompression, for the compressed strings of RDB files and DUMP payloads (Redis writes
// strings longer than 20 bytes LZF-compressed when rdbcompression is on). Bounds-checked: the
// input is untrusted.
#pragma once

#include <string>
#include <string_view>

namespace tiercache::l2::persistence {

// Decompresses `in` into exactly `out_len` bytes appended to *out. False when the data is
// malformed or does not decompress to exactly out_len bytes.
bool lzf_decompress(std::string_view in, size_t out_len, std::string* out);

}  // namespace tiercache::l2::persistence
