// libFuzzer target for the invalidation message decoder: arbitrary bytes never crash it or make
// it allocate without bound, and whatever it accepts re-encodes to an equivalent message.
#include <cstdint>
#include <string>

#include "sidecar/invalidation/message.h"

using namespace tiercache::sidecar::invalidation;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  DecodeLimits limits;
  limits.max_keys = 4096;
  limits.max_key_bytes = 1 << 16;
  Message m;
  std::string err;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (!decode(in, &m, &err, limits)) return 0;
  Message again;
  if (!decode(encode(m), &again, &err, limits)) __builtin_trap();
  if (again.origin != m.origin || again.seq != m.seq || again.groups.size() != m.groups.size())
    __builtin_trap();
  for (size_t i = 0; i < m.groups.size(); ++i)
    if (again.groups[i].keys != m.groups[i].keys || again.groups[i].db != m.groups[i].db ||
        again.groups[i].flush != m.groups[i].flush)
      __builtin_trap();
  return 0;
}
