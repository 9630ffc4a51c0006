// libFuzzer target for how the sidecar reads the L2's CLIENT TRACKING messages
// (parse_tracking_push in sidecar/invalidation/tracking.h): arbitrary bytes, parsed into replies
// by hiredis's reader as the tracking connection does, never crash it, and what it accepts is
// consistent (keys only for kKeys, their byte count right).
#include <hiredis/hiredis.h>

#include <cstdint>

#include "sidecar/invalidation/tracking.h"

using tiercache::sidecar::parse_tracking_push;
using tiercache::sidecar::TrackingPush;

// hiredis 0.14's reader allocates a declared array's element table before reading it (it has no
// max-elements limit; hiredis 1.0 added one), so "*666666660" exhausts memory in the reader, not
// in the code under test. Such inputs are skipped; a hostile L2 is a known limit of that reader.
static bool declares_huge_array(const uint8_t* data, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    if (data[i] != '*') continue;
    uint64_t n = 0;
    for (size_t j = i + 1; j < size && data[j] >= '0' && data[j] <= '9' && n <= 4096; ++j)
      n = n * 10 + (data[j] - '0');
    if (n > 4096) return true;
  }
  return false;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (declares_huge_array(data, size)) return 0;
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, reinterpret_cast<const char*>(data), size);
  TrackingPush push;
  void* reply = nullptr;
  for (int i = 0; i < 64 && redisReaderGetReply(reader, &reply) == REDIS_OK && reply; ++i) {
    parse_tracking_push(static_cast<redisReply*>(reply), &push);
    size_t bytes = 0;
    for (auto k : push.keys) bytes += k.size();
    if (push.kind != TrackingPush::Kind::kKeys && !push.keys.empty()) __builtin_trap();
    if (bytes != push.bytes) __builtin_trap();
    freeReplyObject(reply);
    reply = nullptr;
  }
  redisReaderFree(reader);
  return 0;
}
