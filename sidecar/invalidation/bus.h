// The publish bus, the fallback source of invalidations for an L2 that refuses CLIENT TRACKING
// (source.h; --invalidation-source publish). Sending side: encodes the message (message.h) that
// each write commit PUBLISHes inside its MULTI/EXEC, and the heartbeat. Receiving side: one
// subscription per sidecar to the channel; decodes messages, skips the sidecar's own, detects
// sequence gaps, and judges health: every message this sidecar publishes must come back on the
// subscription within the timeout, so the whole path (publish -> L2 -> subscription) is checked.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "shared/metrics/histogram.h"
#include "sidecar/invalidation/message.h"
#include "sidecar/invalidation/source.h"
#include "sidecar/link/hiredis_link.h"

namespace tiercache::sidecar {

class Bus final : public InvalidationSource {
 public:
  Bus(uv_loop_t* loop, LinkOptions options, std::string channel, uint64_t origin,
      int64_t timeout_ms, BusListener* listener);
  void start() override;
  void stop() override;
  bool healthy() const override { return healthy_; }
  void reconnect(const std::string& why) override { sub_->reconnect(why); }
  std::string_view name() const override { return "publish"; }
  bool writes_publish() const override { return true; }
  // Sends PUBLISH <channel> <message of groups>, expects it back; its seq.
  std::optional<uint64_t> publish(L2Link& link,
                                  const std::vector<invalidation::Group>& groups) override;
  void forget(uint64_t seq) override;
  // Publishes an empty message (nothing when the link or the bus is down).
  void heartbeat(L2Link& link) override;
  bool tracks(std::string_view) const override { return true; }  // sidecars' writes, all keys

  const BusStats& stats() const override { return stats_; }
  const metrics::Histogram& lag_us() const override { return lag_; }

 private:
  static void on_state(void* ctx, bool connected);
  static void on_push(void* ctx, const redisReply* reply);
  static void on_timer(uv_timer_t* t);
  void handle_payload(std::string_view payload);
  // L1 stops serving (and is flushed); with reconnect, the subscription starts over on a fresh
  // connection (the link's backoff applies).
  void go_unhealthy(const std::string& why, bool reconnect);
  void expect(uint64_t seq, uint64_t sent_us);

  std::unique_ptr<HiredisLink> sub_;
  std::string channel_;
  uint64_t origin_;
  int64_t timeout_ms_;
  BusListener* listener_;
  uv_timer_t timer_;
  bool healthy_ = false;
  bool subscribed_ = false;
  uint64_t subscribe_sent_us_ = 0;  // SUBSCRIBE sent, not yet confirmed (0: none pending)
  std::deque<std::pair<uint64_t, uint64_t>> outstanding_;  // (seq, sent_us) of own messages
  std::unordered_map<uint64_t, uint64_t> last_seq_;        // per origin
  BusStats stats_;
  metrics::Histogram lag_;
  uint64_t seq_ = 0;         // of this sidecar's messages (origin, seq)
  std::string msg_scratch_;  // the encoded message being published
};

}  // namespace tiercache::sidecar
