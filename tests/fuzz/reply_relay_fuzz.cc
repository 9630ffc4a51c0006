// libFuzzer target for what the sidecar relays from the L2 (sidecar/link/hiredis_link.h):
// arbitrary bytes read by the links' reader (hiredis's, with reply_functions(), which marks a
// null array's nil), then written back by write_reply. Never crashes or reads out of bounds;
// resp_size is the size written; what was written reads back and writes again to the same
// bytes (the relay is stable); and where the project's own reply parser (shared/resp) accepts
// the first reply, it reads the same tokens from what was written: a null array stays a null
// array (*-1), a null bulk a null bulk ($-1), nested or not.
#include <hiredis/hiredis.h>

#include <cstdint>
#include <string>
#include <vector>

#include "hiredis_input.h"  // same folder
#include "shared/resp/reply_parser.h"
#include "sidecar/link/hiredis_link.h"

using namespace tiercache::sidecar;

namespace {

// Reads one reply from `wire` with the links' reader and writes it back; false if it is not
// one whole reply.
bool relay_once(const std::string& wire, std::string* out) {
  redisReader* reader = make_reply_reader();
  redisReaderFeed(reader, wire.data(), wire.size());
  void* reply = nullptr;
  bool ok = redisReaderGetReply(reader, &reply) == REDIS_OK && reply != nullptr;
  if (ok) {
    out->clear();
    write_reply(*out, static_cast<redisReply*>(reply));
    freeReplyObject(reply);
  }
  redisReaderFree(reader);
  return ok;
}

bool same_tokens(const std::vector<tiercache::resp::ReplyToken>& a,
                 const std::vector<tiercache::resp::ReplyToken>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].type != b[i].type || a[i].integer != b[i].integer || a[i].text != b[i].text)
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (tiercache::fuzz::declares_huge_array(data, size)) return 0;
  std::vector<char> copy(data, data + size);  // exact size: ASan catches overreads
  redisReader* reader = make_reply_reader();
  redisReaderFeed(reader, copy.data(), copy.size());
  void* reply = nullptr;
  for (int i = 0; i < 64 && redisReaderGetReply(reader, &reply) == REDIS_OK && reply; ++i) {
    auto* r = static_cast<const redisReply*>(reply);
    std::string written;
    write_reply(written, r);
    if (resp_size(r) != written.size()) __builtin_trap();
    std::string again;
    if (!relay_once(written, &again) || again != written) __builtin_trap();
    if (i == 0) {  // the reply at the start of the input: the relay kept what it said
      std::vector<tiercache::resp::ReplyToken> in, out;
      size_t used = 0;
      if (tiercache::resp::parse_reply(std::string_view(copy.data(), copy.size()), &in, &used) ==
              tiercache::resp::ReplyStatus::kOk &&
          (tiercache::resp::parse_reply(written, &out, &used) != tiercache::resp::ReplyStatus::kOk ||
           !same_tokens(in, out)))
        __builtin_trap();
    }
    freeReplyObject(reply);
    reply = nullptr;
  }
  redisReaderFree(reader);
  return 0;
}
