// The invalidation bus, receiving side: one subscription per sidecar to the L2 channel.
// Decodes messages, skips the sidecar's own, detects sequence gaps, and judges health: every
// message this sidecar publishes (write commits and heartbeats, write_path.h) must come back
// on the subscription within the timeout, so the whole path (publish -> L2 -> subscription)
// is what is checked. The listener interface is the seam for another source of invalidations
// (the L2's own CLIENT TRACKING messages).
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "shared/invalidation/message.h"
#include "shared/metrics/histogram.h"
#include "sidecar/invalidation/source.h"
#include "sidecar/link/hiredis_link.h"

namespace tiercache::sidecar {

class BusListener {
 public:
  virtual ~BusListener() = default;
  // A message from another sidecar: drop its keys / dbs.
  virtual void on_invalidation(const invalidation::Message& m) = 0;
  // The bus can no longer be trusted (disconnect, timeout, gap): stop serving L1 now.
  virtual void on_bus_unhealthy(const std::string& why) = 0;
  // Subscribed again (after a flush): L1 may serve again.
  virtual void on_bus_healthy() = 0;
  // One of our own messages, published at sent_ms (steady_us() in sidecar/clock.h, in ms), came
  // back while healthy: the channel is ordered, so every invalidation published before it has been
  // applied.
  virtual void on_bus_current(uint64_t sent_ms) = 0;
};

class Bus final : public InvalidationSource {
 public:
  Bus(uv_loop_t* loop, LinkOptions options, std::string channel, uint64_t origin,
      int64_t timeout_ms, BusListener* listener);
  void start() override;
  void stop() override;
  bool healthy() const override { return healthy_; }

  // The sidecar published its message `seq` at `sent_us` (monotonic): expect it back.
  void expect(uint64_t seq, uint64_t sent_us) override;
  // A published message will never arrive (its transaction failed): stop waiting for it.
  void forget(uint64_t seq) override;

  const BusStats& stats() const override { return stats_; }
  const metrics::Histogram& lag_us() const override { return lag_; }

 private:
  static void on_state(void* ctx, bool connected);
  static void on_push(void* ctx, const redisReply* reply);
  static void on_timer(uv_timer_t* t);
  void handle_payload(std::string_view payload);
  void go_unhealthy(const std::string& why, bool reconnect);

  std::unique_ptr<HiredisLink> sub_;
  std::string channel_;
  uint64_t origin_;
  int64_t timeout_ms_;
  BusListener* listener_;
  uv_timer_t timer_;
  bool healthy_ = false;
  bool subscribed_ = false;
  std::deque<std::pair<uint64_t, uint64_t>> outstanding_;  // (seq, sent_us) of own messages
  std::unordered_map<uint64_t, uint64_t> last_seq_;        // per origin
  BusStats stats_;
  metrics::Histogram lag_;
};

}  // namespace tiercache::sidecar
