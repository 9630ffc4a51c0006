// LZF decompression (see lzf.h). The format: a control byte below 32 starts a literal run of
// ctrl+1 bytes; otherwise its top 3 bits are a length (7 means one more length byte follows),
// its low 5 bits and the next byte an offset back into the output, and len+2 bytes are copied
// from there (the ranges may overlap, so byte by byte).
#include "l2/persistence/lzf.h"

namespace tiercache::l2::persistence {

bool lzf_decompress(std::string_view in, size_t out_len, std::string* out) {
  const size_t base = out->size();
  out->resize(base + out_len);
  char* op = out->data() + base;
  size_t o = 0, i = 0;
  const auto* ip = reinterpret_cast<const unsigned char*>(in.data());
  while (i < in.size()) {
    unsigned ctrl = ip[i++];
    if (ctrl < 32) {
      size_t run = ctrl + 1;
      if (in.size() - i < run || out_len - o < run) return false;
      for (size_t k = 0; k < run; ++k) op[o++] = static_cast<char>(ip[i++]);
      continue;
    }
    size_t len = ctrl >> 5;
    if (len == 7) {
      if (i >= in.size()) return false;
      len += ip[i++];
    }
    if (i >= in.size()) return false;
    size_t back = ((ctrl & 0x1f) << 8) + ip[i++] + 1;
    len += 2;
    if (back > o || out_len - o < len) return false;
    for (size_t k = 0; k < len; ++k, ++o) op[o] = op[o - back];
  }
  return o == out_len;
}

}  // namespace tiercache::l2::persistence
