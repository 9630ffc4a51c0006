// The sidecar's two clocks, defined once for every module that compares times.
// steady_us: monotonic and counting suspend (CLOCK_BOOTTIME), the clock of l1::Store::steady_ms
//   with which direct L1 readers judge staleness: the bus's send times vouch for L1 in it;
//   also request latencies and timeouts.
// wall_us: CLOCK_REALTIME, for times another host reads (invalidation messages' sent_at_us,
//   client ages in CLIENT LIST).
#pragma once

#include <time.h>

#include <cstdint>

namespace tiercache::sidecar {

inline uint64_t clock_us(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}
inline uint64_t steady_us() { return clock_us(CLOCK_BOOTTIME); }
inline uint64_t wall_us() { return clock_us(CLOCK_REALTIME); }

}  // namespace tiercache::sidecar
