// Where the sidecar's invalidations come from, as an interface, and who hears them (BusListener).
// Two sources stand behind it:
//   TrackingSource (tracking.h), the default: the L2 reports every modification itself (Redis's
//     client-side caching protocol, CLIENT TRACKING ... BCAST redirected to a subscription to
//     __redis__:invalidate), whoever made it: sidecars, clients connected straight to the L2,
//     scripts, expiry, eviction, FLUSHDB.
//   Bus (bus.h), the fallback for an L2 that refuses CLIENT TRACKING: every sidecar PUBLISHes
//     its writes' keys inside the write's MULTI/EXEC (message.h); writes that bypass the
//     sidecars are invisible to it.
// Either source proves its path end to end with a heartbeat that must come back within
// --bus-timeout-ms, or it reports itself unhealthy (L1 stops serving).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/metrics/histogram.h"
#include "sidecar/invalidation/message.h"

namespace tiercache::sidecar {

class L2Link;

struct BusStats {
  uint64_t received = 0;    // invalidation messages (other sidecars', or the L2's)
  uint64_t own_echoes = 0;  // own messages / heartbeats seen back
  uint64_t gaps = 0;
  uint64_t resets = 0;        // times the source went unhealthy
  uint64_t bad_messages = 0;  // undecodable payloads
  uint64_t bytes_received = 0;  // RESP bytes received on the source's connection
  uint64_t refused = 0;         // the L2 refused to set the source up (CLIENT TRACKING)
};

class BusListener {
 public:
  virtual ~BusListener() = default;
  // Keys (or whole dbs) modified at the L2, each in the db its group names.
  virtual void on_invalidation(const invalidation::Message& m) = 0;
  // Keys modified at the L2 in some db (CLIENT TRACKING does not say which): drop them in every
  // db. An empty list means nothing.
  virtual void on_keys_invalidated(std::span<const std::string_view> keys) = 0;
  // The source can no longer be trusted (disconnect, timeout, gap): flush L1, stop serving.
  virtual void on_bus_unhealthy(const std::string& why) = 0;
  // Set up again (after a flush): L1 may serve again.
  virtual void on_bus_healthy() = 0;
  // A heartbeat sent at sent_ms (steady_us() in sidecar/clock.h, in ms) came back while healthy:
  // the source is ordered, so every invalidation of a write the L2 processed before it has been
  // applied.
  virtual void on_bus_current(uint64_t sent_ms) = 0;
  // A cluster's source (cluster_source.h): drop these hash slots' entries (db 0, the only db
  // of a cluster) and refuse the fills of fetches begun before: the slots changed owner, or
  // their master's source was lost (or is set up again). Whether they may be served and filled
  // afterwards, InvalidationSource::slot_healthy says. A listener that cannot drop slots drops
  // everything (this default).
  virtual void on_slots_dropped(std::span<const uint16_t> slots, const std::string& why) {
    (void)slots;
    (void)why;
    invalidation::Message all;
    all.groups.push_back(invalidation::Group{invalidation::kAllDbs, true, {}});
    on_invalidation(all);
  }
  // A cluster's source, per slot: these slots' master's tracking was lost (or is being set up
  // again), its invalidations last all applied at vouched_ms (on_bus_current's clock; 0: not
  // since it was set up). The listener drops them (this default) or, in fail-safe, keeps
  // answering their entries as stale within its window (slot_stale.h); either way it fills
  // nothing of theirs while slot_healthy is false, and they are dropped (on_slots_dropped)
  // when their master's tracking is set up again.
  virtual void on_slots_unhealthy(std::span<const uint16_t> slots, uint64_t vouched_ms,
                                  const std::string& why) {
    (void)vouched_ms;
    on_slots_dropped(slots, why);
  }
};

class InvalidationSource {
 public:
  virtual ~InvalidationSource() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  // False while invalidations may be missed: L1 must not serve.
  virtual bool healthy() const = 0;
  // The L2 moved (link/l2_locator.h): drop the connection (unhealthy) and set up again there.
  virtual void reconnect(const std::string& why) = 0;
  // "tracking" or "publish" (INFO).
  virtual std::string_view name() const = 0;
  // True if each write commit must carry the source's message (publish()): the Bus. False when
  // the L2 reports writes itself.
  virtual bool writes_publish() const = 0;
  // Sends, on the link (inside the commit's MULTI), the message announcing these groups and
  // expects it back; returns a token for forget(). Sources that do not publish return nullopt.
  virtual std::optional<uint64_t> publish(L2Link& link,
                                          const std::vector<invalidation::Group>& groups) = 0;
  // A published message will never arrive (its transaction failed): stop waiting for it.
  virtual void forget(uint64_t token) = 0;
  // Sends the heartbeat whose return proves the path (nothing while unhealthy, or while the
  // previous one is still on its way).
  virtual void heartbeat(L2Link& link) = 0;
  // Whether this source reports modifications of `key`. A key it does not must never be cached
  // in L1 (nothing would drop it): the fill guard refuses it.
  virtual bool tracks(std::string_view key) const = 0;
  virtual const BusStats& stats() const = 0;
  // Invalidation lag: the Bus measures it from each message's sent_at; the TrackingSource (whose
  // messages carry no timestamp) from each heartbeat's round trip, write to invalidation.
  virtual const metrics::Histogram& lag_us() const = 0;
  // A source that follows each hash slot on its own (a cluster's, per master, when set so:
  // cluster_source.h) stays healthy() while some slots are not: L1 must then neither answer
  // nor fill a key whose slot_healthy(key_slot) is false. Any other source: every slot is.
  virtual bool per_slot() const { return false; }
  virtual bool slot_healthy(uint16_t slot) const {
    (void)slot;
    return true;
  }
};

// A source the L2 reports writes to by itself (CLIENT TRACKING: tracking.h, and one per cluster
// master: cluster_source.h): write commits carry nothing of it.
class ReportedSource : public InvalidationSource {
 public:
  std::string_view name() const override { return "tracking"; }
  bool writes_publish() const override { return false; }
  std::optional<uint64_t> publish(L2Link&, const std::vector<invalidation::Group>&) override {
    return std::nullopt;
  }
  void forget(uint64_t) override {}
};

}  // namespace tiercache::sidecar
