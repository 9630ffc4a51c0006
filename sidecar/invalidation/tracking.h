// The L2's own reports of every modification as the sidecar's source of invalidations (Redis's
// client-side caching protocol over RESP2; docs/coherence.md). One connection per L2:
//     CLIENT ID -> n;  CLIENT TRACKING on REDIRECT n BCAST [PREFIX p ...];  SUBSCRIBE __redis__:invalidate
// Tracking is redirected to the connection itself, so it lives and dies with the subscription:
// a lost connection can never leave tracking behind with a broken redirect (which RESP2 would
// not report). Each message is an array of key names (no db: the key is dropped in every db)
// or nil (a flush: everything is dropped).
//
// Health, end to end: every --bus-heartbeat-ms the sidecar writes its own heartbeat key
// (__tiercache:hb:<origin>, always tracked) through its data link; that write must come back
// here as an invalidation within --bus-timeout-ms. One heartbeat is in flight at a time, so the
// one that comes back is the one that was sent, and its round trip (write sent -> invalidation
// received) is the lag histogram: the L2's messages carry no timestamp.
#pragma once

#include <hiredis/hiredis.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/invalidation/source.h"
#include "sidecar/link/hiredis_link.h"

namespace tiercache::sidecar {

inline constexpr std::string_view kTrackingChannel = "__redis__:invalidate";
// Keys under this prefix are the sidecars' own (heartbeats); --track-prefix may not name one.
inline constexpr std::string_view kReservedPrefix = "__tiercache:";

// One reply on the tracking connection, interpreted (a pure function: fuzzed and unit-tested).
struct TrackingPush {
  enum class Kind {
    kIgnored,     // a reply on another channel, a pong
    kSubscribed,  // the subscribe confirmation for the tracking channel
    kKeys,        // keys modified at the L2 (views into the reply)
    kFlush,       // nil: the L2 was flushed (FLUSHDB, FLUSHALL), drop everything
    kBad,         // a message on the channel that is neither an array of strings nor nil
  };
  Kind kind = Kind::kIgnored;
  std::vector<std::string_view> keys;
  size_t bytes = 0;  // key bytes
};
void parse_tracking_push(const redisReply* r, TrackingPush* out);

// The prefixes --track-prefix gives, normalized: duplicates and prefixes covered by a shorter
// one dropped (Redis refuses overlapping prefixes); empty if any is "" (everything). False with
// *error for a prefix under kReservedPrefix.
bool normalize_prefixes(std::vector<std::string> in, std::vector<std::string>* out,
                        std::string* error);

// Whether a source tracking these (normalized) prefixes reports modifications of key.
bool tracked_by(const std::vector<std::string>& prefixes, std::string_view key);

// The arguments of CLIENT TRACKING for this redirect id, prefixes and heartbeat key.
std::vector<std::string> tracking_command(int64_t redirect_id,
                                          const std::vector<std::string>& prefixes,
                                          const std::string& heartbeat_key);

struct TrackingOptions {
  std::vector<std::string> prefixes;  // normalized; empty: every key
  std::string heartbeat_key;          // under kReservedPrefix, unique per sidecar process
  int64_t timeout_ms = 1000;          // --bus-timeout-ms
  int64_t heartbeat_ttl_ms = 60000;   // the heartbeat key expires at the L2 once we are gone
};

// May be destroyed as soon as stop() returned, even while its heartbeat is in flight on the data
// link (the cluster source drops a master's source when the master leaves).
class TrackingSource final : public ReportedSource {
 public:
  TrackingSource(uv_loop_t* loop, LinkOptions link, TrackingOptions options,
                 BusListener* listener);
  ~TrackingSource() override;
  TrackingSource(const TrackingSource&) = delete;
  TrackingSource& operator=(const TrackingSource&) = delete;
  void start() override;
  void stop() override;
  void reconnect(const std::string& why) override { sub_->reconnect(why); }
  bool healthy() const override { return healthy_; }
  // SET <heartbeat key> <n> PX <ttl> on the data link.
  void heartbeat(L2Link& link) override;
  const BusStats& stats() const override { return stats_; }
  const metrics::Histogram& lag_us() const override { return lag_; }

  // Keys under a tracked prefix (every key without --track-prefix).
  bool tracks(std::string_view key) const override;
  const std::vector<std::string>& prefixes() const { return options_.prefixes; }

  // Unit tests: one reply as the connection would deliver it.
  void handle(const redisReply* r);
  // Unit tests and the heartbeat's completion (which holds no pointer to the source).
  static void heartbeat_answered(const redisReply* r);

 private:
  class SetupStep;
  class HeartbeatDone;
  static void on_state(void* ctx, bool connected);
  static void on_push(void* ctx, const redisReply* reply);
  static void on_timer(uv_timer_t* t);
  void on_client_id(const redisReply* r);
  void on_tracking_reply(const redisReply* r);
  void go_unhealthy(const std::string& why);
  void fail_setup(const std::string& why);

  std::unique_ptr<HiredisLink> sub_;  // first: destroyed last (its completions point here)
  TrackingOptions options_;
  BusListener* listener_;
  uv_timer_t* timer_;  // heap: freed in its close callback, which may run after this object
  bool healthy_ = false;
  uint64_t connected_us_ = 0;  // set-up must finish within the timeout
  bool setting_up_ = false;
  uint64_t hb_sent_us_ = 0;    // the heartbeat in flight (0: none)
  uint64_t hb_count_ = 0;
  bool refusal_logged_ = false;
  BusStats stats_;
  metrics::Histogram lag_;
  TrackingPush push_;  // reused
};

}  // namespace tiercache::sidecar
