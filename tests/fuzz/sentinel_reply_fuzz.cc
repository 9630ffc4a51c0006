// libFuzzer target for the sentinel replies' interpretation (sidecar/link/sentinel_locator.h):
// any bytes parsed by hiredis's reader (as the links do) and then read as the reply to SENTINEL
// get-master-addr-by-name, to ROLE, and as a +switch-master message never crash or read out of
// bounds, and an address they accept is a host with a valid port.
#include <hiredis/hiredis.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sidecar/link/sentinel_locator.h"
#include "hiredis_input.h"  // same folder
#include "sidecar/link/hiredis_link.h"

using namespace tiercache::sidecar;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || tiercache::fuzz::declares_huge_array(data, size)) return 0;
  // The first byte picks the master name the message must be about.
  std::string name = data[0] & 1 ? "mymaster" : "m";
  std::vector<char> copy(data + 1, data + size);  // exact size: ASan catches overreads
  redisReader* reader = make_reply_reader();  // as the links read
  redisReaderFeed(reader, copy.data(), copy.size());
  void* reply = nullptr;
  while (redisReaderGetReply(reader, &reply) == REDIS_OK && reply != nullptr) {
    auto* r = static_cast<const redisReply*>(reply);
    Endpoint e;
    std::string why;
    if (master_addr_reply(r, &e, &why) && (e.host.empty() || e.port < 1 || e.port > 65535))
      __builtin_trap();
    (void)role_is_master(r);
    Endpoint to;
    if (switch_master_message(r, name, &to) && (to.host.empty() || to.port < 1 || to.port > 65535))
      __builtin_trap();
    freeReplyObject(reply);
    reply = nullptr;
  }
  redisReaderFree(reader);
  return 0;
}
