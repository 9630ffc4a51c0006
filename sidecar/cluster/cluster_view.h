// What the sidecar outside the data link may know of a Redis Cluster (l2-mode cluster): which
// master serves each hash slot, and news when that changes. The cluster data link
// (cluster/cluster_link.h) discovers and refreshes the topology and implements this view; the
// per-master invalidation source (invalidation/cluster_source.h) follows it, keeping one
// tracking connection per master, and a unit test drives it with a fake view.
#pragma once

#include "sidecar/cluster/topology.h"

namespace tiercache::sidecar::cluster {

class ClusterView {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // The topology changed: first discovery, a refresh after MOVED, a lost connection or the
    // periodic check. `now` is valid during the call only; masters may have come or gone and
    // slots changed owners (a slot whose owner changed must not keep L1 copies read from the
    // old owner).
    virtual void on_topology(const Topology& now) = 0;
  };

  virtual ~ClusterView() = default;
  // The current topology; no masters until the first discovery succeeded.
  virtual const Topology& topology() const = 0;
  // One listener (null: none); it hears every change after this call.
  virtual void set_topology_listener(Listener* listener) = 0;
  // A master to connect to for what any node serves (pub/sub: a cluster relays PUBLISH to
  // every node): one the view can reach now, else the first; false while no master is known.
  virtual bool reachable_master(NodeAddress* out) const {
    if (topology().masters().empty()) return false;
    *out = topology().masters()[0];
    return true;
  }
};

}  // namespace tiercache::sidecar::cluster
