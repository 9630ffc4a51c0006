// libFuzzer target for the tagged entry layout (l1/tagged_entry.h), which the direct reader
// parses from shared memory any process of the host can write: any bytes parse or are refused
// without reading past their end, and what parses is consistent (the tag records walk to
// exactly the count, the value is the rest).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "l1/tagged_entry.h"

using namespace tiercache::l1;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<char> copy(data, data + size);  // exact size: ASan catches overreads
  const std::string_view raw(copy.data(), copy.size());
  TaggedEntry e;
  if (!parse_tagged_entry(raw, &e)) return 0;
  if (!is_tagged_entry(raw)) __builtin_trap();
  std::string_view tags = e.tag_bytes, key, token;
  unsigned n = 0;
  size_t bytes = 0;
  while (next_tag(&tags, &key, &token)) {
    ++n;
    bytes += 4 + key.size() + token.size();
  }
  if (n != e.tags || bytes != e.tag_bytes.size() || !tags.empty()) __builtin_trap();
  if (e.value.data() + e.value.size() != raw.data() + raw.size()) __builtin_trap();
  return 0;
}
