// Shared helpers for the L1 tests: unique segment names, a controllable clock, cleanup guard.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "l1/store.h"

namespace tiercache::l1::testing {

// Manual clock for TTL tests (ms since an arbitrary epoch).
inline std::atomic<uint64_t> g_fake_now{1'700'000'000'000ull};
inline uint64_t fake_clock() { return g_fake_now.load(); }

// Unique segment name per process and call; the guard unlinks it on scope exit.
inline std::string unique_name(const char* tag) {
  static std::atomic<int> counter{0};
  return std::string("test-") + tag + "-" + std::to_string(getpid()) + "-" +
         std::to_string(counter++);
}

struct SegmentGuard {
  std::string name;
  ~SegmentGuard() { Store::unlink(name); }
};

inline Options make_options(const std::string& name, uint64_t bytes) {
  Options o;
  o.name = name;
  o.memory_bytes = bytes;
  return o;
}

// Owner options with both clocks on the manual clock, and the reader options that go with them.
inline Options fake_clock_options(const std::string& name, uint64_t bytes) {
  Options o = make_options(name, bytes);
  o.clock_ms = fake_clock;
  o.steady_clock_ms = fake_clock;
  return o;
}
inline Options reader_options(Options o, uint64_t max_staleness_ms) {
  o.mode = OpenMode::kReader;
  o.reader_max_staleness_ms = max_staleness_ms;
  return o;
}

}  // namespace tiercache::l1::testing
