// NodeLocator (see node_locator.h).
#include "sidecar/cluster/node_locator.h"

#include "shared/metrics/info_text.h"

namespace tiercache::sidecar::cluster {

bool NodeLocator::locate(Endpoint* out, std::string* why) const {
  NodeAddress n;
  if (view_ != nullptr && view_->reachable_master(&n)) {
    *out = Endpoint{false, n.host, n.port};
    return true;
  }
  if (seeds_.empty()) {
    *why = "no cluster node known";
    return false;
  }
  *out = seeds_[0];
  return true;
}

void NodeLocator::info(std::string& out) const {
  Endpoint at;
  std::string why;
  metrics::info_field(out, "l2_mode", "cluster");
  metrics::info_field(out, "l2_master", locate(&at, &why) ? endpoint_text(at) : std::string());
  metrics::info_field(out, "l2_master_switches", uint64_t{0});
}

}  // namespace tiercache::sidecar::cluster
