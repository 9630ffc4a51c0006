// SHA-1 (FIPS 180-1), as Redis uses it to name scripts. Not for security: script identity only.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace tiercache::util {

// The 20-byte digest of data.
std::array<uint8_t, 20> sha1(std::string_view data);

// The digest as 40 lower-case hex characters, written to out[0..40). No terminator.
void sha1_hex(std::string_view data, char out[40]);

}  // namespace tiercache::util
