// libFuzzer target for the cluster parsers (sidecar/cluster/topology.h): any bytes parsed as a
// RESP2 reply and then as CLUSTER SLOTS, and as a MOVED/ASK error text, never crash or read out
// of bounds, and whatever they accept is consistent (every assigned slot names a known master,
// ranges are within 0..16383, redirections carry a valid slot and port).
#include <cstdint>
#include <string_view>
#include <vector>

#include "shared/resp/reply_parser.h"
#include "sidecar/cluster/topology.h"

using namespace tiercache;
using namespace tiercache::sidecar::cluster;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<char> copy(data, data + size);  // exact size: ASan catches overreads
  std::string_view buf(copy.data(), copy.size());
  Redirect r;
  if (parse_redirect(buf, &r) && (r.slot >= kSlots || r.port < 1 || r.port > 65535))
    __builtin_trap();
  resp::ReplyLimits limits;
  limits.max_depth = 16;
  limits.max_array_len = 1 << 12;
  limits.max_bulk_len = 1 << 16;
  std::vector<resp::ReplyToken> tokens;
  size_t consumed = 0;
  if (resp::parse_reply(buf, &tokens, &consumed, limits) != resp::ReplyStatus::kOk) return 0;
  Topology topo;
  if (!parse_cluster_slots(tokens, "fallback", &topo).empty()) return 0;
  size_t assigned = 0;
  for (int s = 0; s < kSlots; ++s) {
    int m = topo.master_of(static_cast<uint16_t>(s));
    if (m < -1 || m >= static_cast<int>(topo.masters().size())) __builtin_trap();
    if (m >= 0) ++assigned;
  }
  size_t in_ranges = 0;
  for (const SlotRange& sr : topo.ranges()) {
    if (sr.first > sr.last || sr.last >= kSlots || sr.master.host.empty()) __builtin_trap();
    in_ranges += sr.last - sr.first + 1u;
  }
  if (assigned != in_ranges) __builtin_trap();
  return 0;
}
