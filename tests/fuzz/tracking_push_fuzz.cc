// libFuzzer target for how the sidecar reads the L2's CLIENT TRACKING messages
// (parse_tracking_push in sidecar/invalidation/tracking.h): arbitrary bytes, parsed into replies
// by hiredis's reader as the tracking connection does, never crash it, and what it accepts is
// consistent (keys only for kKeys, their byte count right).
#include <hiredis/hiredis.h>

#include <cstdint>

#include "sidecar/invalidation/tracking.h"
#include "hiredis_input.h"  // same folder
#include "sidecar/link/hiredis_link.h"

using tiercache::sidecar::parse_tracking_push;
using tiercache::sidecar::make_reply_reader;
using tiercache::sidecar::TrackingPush;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (tiercache::fuzz::declares_huge_array(data, size)) return 0;
  redisReader* reader = make_reply_reader();  // as the links read
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
