// Where the sidecar's connections to "any node" of a Redis Cluster go (l2-mode cluster): the
// clients' pub/sub relays. A cluster relays PUBLISH to every node, so a subscription served by
// any node sees every message; what matters is that the node is up. The locator answers a
// master the cluster link reaches now (ClusterView::reachable_master), or the first seed before
// the topology is known, so a relay opened after a master died goes to one that is alive. (The
// invalidation source and dedicated links pick their master themselves: one per master, and
// the master of the key.)
#pragma once

#include <string>
#include <vector>

#include "sidecar/cluster/cluster_view.h"
#include "sidecar/link/l2_locator.h"

namespace tiercache::sidecar::cluster {

class NodeLocator final : public L2Locator {
 public:
  explicit NodeLocator(std::vector<Endpoint> seeds) : seeds_(std::move(seeds)) {}
  // The view to follow from now on (the cluster link, made after the locator); must outlive
  // this object or be unset (nullptr) first.
  void follow(const ClusterView* view) { view_ = view; }

  void start(Listener*) override {}
  void stop() override { view_ = nullptr; }  // (the view may go first: seeds from now on)
  bool locate(Endpoint* out, std::string* why) const override;
  void link_lost() override {}  // the view follows the cluster itself
  // l2_mode cluster, l2_master: where a relay opened now goes, l2_master_switches 0.
  void info(std::string& out) const override;
  uint64_t switches() const override { return 0; }

 private:
  std::vector<Endpoint> seeds_;
  const ClusterView* view_ = nullptr;
};

}  // namespace tiercache::sidecar::cluster
