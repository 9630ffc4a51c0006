// SentinelLocator (l2-mode sentinel): the L2 is the master that Redis Sentinel names, found and
// followed as Redis's sentinel-client guidelines say (redis.io/docs/reference/sentinel-clients):
//   1. ask the sentinels in turn (the `l2` list, starting with the last that answered)
//      SENTINEL get-master-addr-by-name NAME;
//   2. connect to that address (with the L2's AUTH and TLS) and check that ROLE says master;
//      if not, or unreachable, ask again after a short pause;
//   3. stay subscribed to +switch-master on a sentinel and check the announced master the same
//      way; a new subscription, or a lost data link (the master may have changed while it was
//      away), starts over at 1.
// While no master is confirmed, locate() answers nothing, so no connection goes to a master that
// may be demoted. A confirmed master other than the previous one is a move (the listener flushes
// L1 and moves every connection). Callbacks only record what they heard; a 20 ms tick acts on
// it, so links are created and freed outside their own hiredis callbacks.
#pragma once

#include <hiredis/hiredis.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/link/hiredis_link.h"
#include "sidecar/link/l2_locator.h"

namespace tiercache::sidecar {

struct SentinelOptions {
  std::vector<Endpoint> sentinels;
  std::string master_name;
  LinkOptions sentinel_link;  // to a sentinel (no AUTH unless l2-sentinel-password)
  LinkOptions master_link;    // to a master candidate, for ROLE (the L2's AUTH and TLS)
  int64_t pause_ms = 250;     // before asking again after a failed round
};

// Interpretation of the replies involved (parsed by hiredis). Fuzzed: tests/fuzz/sentinel_fuzz.
// SENTINEL get-master-addr-by-name: [ip, port]; nil (an unknown name) or anything else: false
// with *why.
bool master_addr_reply(const redisReply* r, Endpoint* out, std::string* why);
// ROLE's reply names a master (first element "master").
bool role_is_master(const redisReply* r);
// A message on the +switch-master channel ("NAME OLD-IP OLD-PORT NEW-IP NEW-PORT") about
// master `name`: true with the new address.
bool switch_master_message(const redisReply* r, std::string_view name, Endpoint* out);

class SentinelLocator final : public L2Locator {
 public:
  SentinelLocator(uv_loop_t* loop, SentinelOptions options);
  ~SentinelLocator() override;
  SentinelLocator(const SentinelLocator&) = delete;
  SentinelLocator& operator=(const SentinelLocator&) = delete;

  void start(Listener* listener) override;
  void stop() override;
  bool locate(Endpoint* out, std::string* why) const override;
  void link_lost() override;
  void info(std::string& out) const override;
  uint64_t switches() const override { return switches_; }

 private:
  enum class Step { kAsk, kAsking, kAskFailed, kProbe, kProbing, kProbeFailed, kConfirmed,
                    kPause, kKnown };
  struct Answer;
  static void on_timer(uv_timer_t* t);
  static void on_sub_state(void* ctx, bool connected);
  static void on_push(void* ctx, const redisReply* r);
  void tick();
  void go(Step s);  // enters a step (its deadline counts from now)
  // Frees a link outside its callbacks; its failed requests are no answer.
  void drop(std::unique_ptr<HiredisLink>& link);
  void step();
  void follow_subscription();
  void rediscover(const std::string& why);  // from step 1, unless discovery already runs
  void next_sentinel(const std::string& why);
  void pause(const std::string& why);
  void adopt(const Endpoint& master);
  std::unique_ptr<HiredisLink> open(const LinkOptions& base, const Endpoint& at,
                                    const char* name, bool subscriber);

  uv_loop_t* loop_;
  SentinelOptions o_;
  Listener* listener_ = nullptr;
  uv_timer_t* timer_ = nullptr;  // heap: freed in its close callback
  Step step_ = Step::kAsk;
  uint64_t step_started_us_ = 0;
  uint64_t pause_until_us_ = 0;
  uint64_t attempt_ = 0;      // answers of older attempts are ignored
  std::string failure_;       // why the last ask or probe failed
  size_t current_ = 0;        // the sentinel asked and subscribed to
  size_t failed_in_round_ = 0;
  bool known_ = false;        // master_ is confirmed and may be connected to
  bool ever_known_ = false;
  Endpoint master_;
  Endpoint candidate_;
  uint64_t switches_ = 0;
  bool in_listener_ = false;  // the listener's own reconnects are not losses
  bool subscribed_ = false;
  bool subscribed_once_ = false;
  bool sub_lost_ = false;
  std::optional<Endpoint> announced_;  // +switch-master heard, not yet acted on
  // Last: destroyed first (their completions write to the members above).
  std::unique_ptr<HiredisLink> query_;  // to sentinel current_
  std::unique_ptr<HiredisLink> sub_;    // subscribed to +switch-master on sentinel current_
  std::unique_ptr<HiredisLink> probe_;  // to candidate_, for ROLE
};

}  // namespace tiercache::sidecar
