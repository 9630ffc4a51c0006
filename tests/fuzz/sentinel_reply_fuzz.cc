// libFuzzer target for the sentinel replies' interpretation (sidecar/link/sentinel_locator.h):
// any bytes parsed by hiredis's reader (as the links do) and then read as the reply to SENTINEL
// get-master-addr-by-name, to ROLE, and as a +switch-master message never crash or read out of
// bounds, and an address they accept is a host with a valid port.
#include <hiredis/hiredis.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sidecar/link/sentinel_locator.h"

using namespace tiercache::sidecar;

namespace {

// hiredis 0.14's reader allocates a multi-bulk's element array as soon as it reads the header
// (it has no maxelements), so "*333333332" asks for gigabytes (fresh-clone run r31: libFuzzer's
// out-of-memory). That is the library's behaviour, not the code under test's, whose replies
// have a few elements: such inputs are skipped.
bool declares_huge_array(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != '*') continue;
    uint64_t v = 0;
    for (size_t j = i + 1; j < n && p[j] >= '0' && p[j] <= '9' && v <= 1024; ++j)
      v = v * 10 + (p[j] - '0');
    if (v > 1024) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || declares_huge_array(data, size)) return 0;
  // The first byte picks the master name the message must be about.
  std::string name = data[0] & 1 ? "mymaster" : "m";
  std::vector<char> copy(data + 1, data + size);  // exact size: ASan catches overreads
  redisReader* reader = redisReaderCreate();
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
