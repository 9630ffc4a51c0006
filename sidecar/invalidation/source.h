// Where the sidecar's invalidations come from, as an interface: today the Bus (bus.h), a
// subscription to the channel every sidecar publishes its writes' invalidations on; next, the
// L2's own reports of every write (CLIENT TRACKING) can stand behind the same interface. The
// source calls its BusListener (bus.h) with invalidations and health changes.
#pragma once

#include <cstdint>

#include "shared/metrics/histogram.h"

namespace tiercache::sidecar {

struct BusStats {
  uint64_t received = 0;    // messages from other sidecars
  uint64_t own_echoes = 0;  // own messages seen back
  uint64_t gaps = 0;
  uint64_t resets = 0;        // times the bus went unhealthy
  uint64_t bad_messages = 0;  // undecodable payloads
};

class InvalidationSource {
 public:
  virtual ~InvalidationSource() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  // False while invalidations may be missed: L1 must not serve.
  virtual bool healthy() const = 0;
  // The sidecar published its message `seq` at `sent_us` (steady_us): expect it back.
  virtual void expect(uint64_t seq, uint64_t sent_us) = 0;
  // A published message will never arrive (its transaction failed): stop waiting for it.
  virtual void forget(uint64_t seq) = 0;
  virtual const BusStats& stats() const = 0;
  virtual const metrics::Histogram& lag_us() const = 0;
};

}  // namespace tiercache::sidecar
