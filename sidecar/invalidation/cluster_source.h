// Invalidations from a Redis Cluster (l2-mode cluster): one CLIENT TRACKING source per master of
// the current topology, followed through cluster::ClusterView, seen by the sidecar as one
// InvalidationSource. Each master reports the modifications of the keys it serves on its own
// tracking connection (tracking.h), so every master needs one.
//
//   ClusterView --on_topology--> ClusterSource --factory--> per-master source (TrackingSource)
//                                      ^                          | (per-master BusListener)
//                                      +--------------------------+
//                                      | min of current marks, health of all, keys as they come
//                                      v
//                                 BusListener (the sidecar)
//
// Heartbeats: each master's source writes its own key, __tiercache:hb:{TAG}<origin>, where TAG
// (cluster::slot_tag) hashes to a slot that master serves, so the data link (which routes by
// slot) writes it on that master and it comes back on that master's tracking connection. When
// the tag's slot leaves the master, the master gets a new key (and a new source).
//
// Health, per slot (per_slot, the sidecar's default in l2-mode cluster; L1 has per-slot
// generations, l1::Options::hash_slot_generations): the loss of one master's source (failover,
// connection lost, a heartbeat not seen back) concerns only the slots that master owns
// (on_slots_unhealthy, with the time its invalidations were last all applied): the sidecar
// drops them (O(1) per slot in L1, fills begun before refused) or, with --stale-if-error-ms,
// keeps answering them as stale within that window (sidecar/slot_stale.h). slot_healthy() is
// false for them until that master's source is set up again, when they are dropped
// (on_slots_dropped): L1 neither fills their keys nor answers them fresh meanwhile, reads go to
// the L2 (its errors, or the new owner's values). The other masters' slots keep being served.
// healthy() is then "some master's source is healthy" (L1 serves some keys); the current mark
// (on_bus_current) is the minimum over the healthy masters, sound because the others' slots
// hold nothing (or, in fail-safe, what its window allows). Measured with three masters
// (test_master_killed_drops_only_its_slots in tests/integration/sidecar/test_cluster_failover.py:
// 3,000 keys, a master killed with kill -9): the failover drops 33.4% of L1's entries (the dead
// master's 5,462 slots), not all of them.
// Health all or nothing (!per_slot: an L1 segment without per-slot generations): the sidecar
// hears on_bus_unhealthy (L1 is flushed, or fail-safe's window opens) whenever any master's
// source goes unhealthy, and on_bus_healthy once every master's is healthy again.
// Either way, a topology change drops the slots whose owner changed (a master leaves or joins,
// a failover, resharding), and only those, at once (fail-safe or not): nothing read from an old
// owner survives.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/cluster/cluster_view.h"
#include "sidecar/invalidation/source.h"
#include "sidecar/invalidation/tracking.h"
#include "sidecar/link/hiredis_link.h"
#include "sidecar/link/l2_locator.h"

namespace tiercache::sidecar {

// Makes the source of one master at `node`, reporting to `listener`. It is started by the
// caller, and may be destroyed right after its stop().
using MasterSourceFactory = std::function<std::unique_ptr<InvalidationSource>(
    const Endpoint& node, TrackingOptions options, BusListener* listener)>;

// The heartbeat key of this sidecar (origin) for the master that serves slot:
// "__tiercache:hb:{TAG}<origin as 16 hex digits>", whose slot is `slot`.
std::string cluster_heartbeat_key(uint16_t slot, uint64_t origin);

class ClusterSource final : public ReportedSource, public cluster::ClusterView::Listener {
 public:
  // view: must outlive this object (the destructor leaves it). options: prefixes, timeout and
  // heartbeat TTL for every master (its heartbeat_key is ignored: each master gets its own).
  // per_slot: health per slot (see above) rather than all or nothing.
  ClusterSource(cluster::ClusterView& view, TrackingOptions options, uint64_t origin,
                MasterSourceFactory factory, BusListener* listener, bool per_slot = false);
  ~ClusterSource() override;
  ClusterSource(const ClusterSource&) = delete;
  ClusterSource& operator=(const ClusterSource&) = delete;

  // Follows the view from now on (a source per master of its current topology, started).
  void start() override;
  // Stops and frees every master's source (their counters stay) and leaves the view.
  void stop() override;
  // The topology is known and every master's source is healthy (per_slot: some master's).
  bool healthy() const override;
  bool per_slot() const override { return per_slot_; }
  // The slot has an owner whose source is healthy (O(1)).
  bool slot_healthy(uint16_t slot) const override;
  // INFO: slots slot_healthy() is false for (every slot before the topology is known).
  size_t slots_unhealthy() const;
  // Every master's source reconnects.
  void reconnect(const std::string& why) override;
  // Each master's source sends its own (each one only while healthy, one in flight).
  void heartbeat(L2Link& link) override;
  bool tracks(std::string_view key) const override {
    return tracked_by(options_.prefixes, key);
  }
  // Sums over the masters, those gone included (counters never go back).
  const BusStats& stats() const override;
  // The masters' lag histograms merged (every heartbeat round trip of every master, so the
  // percentiles are over all of them and max is the worst master's), those gone included.
  const metrics::Histogram& lag_us() const override;

  // ClusterView::Listener
  void on_topology(const cluster::Topology& now) override;

  // INFO and tests: the masters followed, and each one's heartbeat key.
  size_t masters() const { return masters_.size(); }
  std::vector<std::pair<Endpoint, std::string>> heartbeat_keys() const;

 private:
  // One master: its source, and what its events mean to the whole (it is that source's listener).
  struct Master final : BusListener {
    ClusterSource* owner = nullptr;
    Endpoint node;
    uint16_t hb_slot = 0;  // the slot of its heartbeat key (one it serves)
    std::unique_ptr<InvalidationSource> source;
    bool live = true;         // false while being stopped: its events are ignored
    uint64_t current_ms = 0;  // its latest on_bus_current since it was last healthy (0: none)
    bool kept_stale = false;  // lost while vouched for: its slots dropped once it is back

    void on_invalidation(const invalidation::Message& m) override;
    void on_keys_invalidated(std::span<const std::string_view> keys) override;
    void on_bus_unhealthy(const std::string& why) override;
    void on_bus_healthy() override;
    void on_bus_current(uint64_t sent_ms) override;
  };

  std::unique_ptr<Master> make_master(const Endpoint& node, uint16_t hb_slot);
  // The slots m owns in the current topology.
  std::vector<uint16_t> slots_of(const Master& m) const;
  void retire(std::unique_ptr<Master> m);  // stops it, keeps its counters
  void master_unhealthy(Master& m, const std::string& why);
  void master_current(Master& m, uint64_t sent_ms);
  void report_health(const std::string& why);  // tells the listener when the whole changed

  cluster::ClusterView& view_;
  TrackingOptions options_;
  uint64_t origin_;
  MasterSourceFactory factory_;
  BusListener* listener_;
  bool per_slot_;
  bool started_ = false;
  bool known_ = false;              // a topology with at least one master was seen
  bool reported_healthy_ = false;   // what the listener last heard
  uint64_t reported_current_ = 0;   // the last mark passed on
  std::vector<std::unique_ptr<Master>> masters_;
  // Each slot's owner in the last topology (index into owners_), -1: none.
  std::array<int16_t, cluster::kSlots> slot_owner_;
  std::vector<Endpoint> owners_;
  std::vector<Master*> owner_master_;  // per index of owners_: its Master (null if none)
  BusStats gone_stats_;            // of masters no longer followed
  metrics::Histogram gone_lag_;
  mutable BusStats stats_;         // computed by stats()
  mutable metrics::Histogram lag_;  // computed by lag_us()
};

// Production: a TrackingSource per master, over a connection like `subscriber` (the sidecar's
// subscribed-link options: AUTH, TLS, timeouts) pinned to the master's address. The lead's one
// call in Sidecar::start for l2-mode cluster:
//   bus_ = make_cluster_source(loop_, view, link_options(config_, nullptr, true, l2_tls_),
//                              tracking_options, origin_, this, per_slot);
std::unique_ptr<ClusterSource> make_cluster_source(uv_loop_t* loop, cluster::ClusterView& view,
                                                   LinkOptions subscriber,
                                                   TrackingOptions options, uint64_t origin,
                                                   BusListener* listener, bool per_slot = false);

}  // namespace tiercache::sidecar
