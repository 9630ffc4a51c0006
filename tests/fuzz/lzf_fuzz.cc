// libFuzzer target for LZF (l2/persistence/lzf.h). Input byte 0 picks the mode: even, the rest
// is compressed (with a limit from byte 1) and, when it fit, must decompress to itself; odd, the
// rest (after a 2-byte announced length) is fed to the decompressor as untrusted data, which
// must fail cleanly or produce exactly that many bytes.
#include <cstdint>
#include <string>
#include <string_view>

#include "l2/persistence/lzf.h"

using tiercache::l2::persistence::lzf_compress;
using tiercache::l2::persistence::lzf_decompress;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 3, size - 3);
  if (data[0] % 2 == 0) {
    // Limits from far too small to more than enough.
    size_t limit = rest.size() * data[1] / 128 + data[2];
    std::string packed = "p";
    size_t n = lzf_compress(rest, limit, &packed);
    if (n == 0) {
      if (packed != "p") __builtin_trap();
      return 0;
    }
    if (n > limit || packed.size() != n + 1) __builtin_trap();
    std::string back;
    if (!lzf_decompress(std::string_view(packed).substr(1), rest.size(), &back)) __builtin_trap();
    if (back != rest) __builtin_trap();
  } else {
    size_t announced = (size_t{data[1]} << 8) | data[2];
    std::string out = "o";
    if (lzf_decompress(rest, announced, &out) && out.size() != announced + 1) __builtin_trap();
  }
  return 0;
}
