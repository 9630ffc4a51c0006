// SentinelLocator (see sentinel_locator.h): discovery, the ROLE check and +switch-master.
#include "sidecar/link/sentinel_locator.h"

#include "shared/log/log.h"
#include "shared/metrics/info_text.h"
#include "shared/util/numbers.h"
#include "sidecar/clock.h"

namespace tiercache::sidecar {

namespace {

constexpr uint64_t kTickMs = 20;

std::string_view text(const redisReply* r) {
  if (r == nullptr || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS &&
                       r->type != REDIS_REPLY_ERROR))
    return {};
  return std::string_view(r->str, r->len);
}

bool host_port(std::string_view host, std::string_view port, Endpoint* out) {
  auto p = util::parse_int64(port);
  if (host.empty() || !p || *p <= 0 || *p > 65535) return false;
  out->unix_socket = false;
  out->host = std::string(host);
  out->port = static_cast<int>(*p);
  return true;
}

}  // namespace

bool master_addr_reply(const redisReply* r, Endpoint* out, std::string* why) {
  if (r == nullptr) {
    *why = "no answer";
    return false;
  }
  if (r->type == REDIS_REPLY_NIL || (r->type == REDIS_REPLY_ARRAY && r->elements == 0)) {
    *why = "the sentinel does not know this master";
    return false;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    *why = std::string(text(r));
    return false;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
      r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING ||
      !host_port(text(r->element[0]), text(r->element[1]), out)) {
    *why = "unexpected reply to SENTINEL get-master-addr-by-name";
    return false;
  }
  return true;
}

bool role_is_master(const redisReply* r) {
  return r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
         text(r->element[0]) == "master";
}

bool switch_master_message(const redisReply* r, std::string_view name, Endpoint* out) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
      text(r->element[0]) != "message" || text(r->element[1]) != "+switch-master")
    return false;
  std::string_view msg = text(r->element[2]);
  std::string_view word[5];
  for (auto& w : word) {
    size_t sp = msg.find(' ');
    w = msg.substr(0, sp);
    msg = sp == std::string_view::npos ? std::string_view() : msg.substr(sp + 1);
  }
  return msg.empty() && word[0] == name && host_port(word[3], word[4], out);
}

// A reply to the query or the probe: recorded for the tick, unless a newer attempt began.
struct SentinelLocator::Answer final : Completion {
  SentinelLocator* loc;
  uint64_t attempt;
  bool probe;
  Answer(SentinelLocator* l, bool p) : loc(l), attempt(++l->attempt_), probe(p) {}
  void on_reply(const redisReply* r) override {
    if (attempt != loc->attempt_) return;
    if (probe) {
      if (role_is_master(r)) {
        loc->go(Step::kConfirmed);
      } else {
        loc->failure_ = endpoint_text(loc->candidate_) +
                        (r == nullptr ? " did not answer ROLE" : " is not a master (ROLE)");
        loc->go(Step::kProbeFailed);
      }
      return;
    }
    std::string why;
    if (master_addr_reply(r, &loc->candidate_, &why)) {
      loc->go(Step::kProbe);
    } else {
      loc->failure_ = why;
      loc->go(Step::kAskFailed);
    }
  }
};

SentinelLocator::SentinelLocator(uv_loop_t* loop, SentinelOptions options)
    : loop_(loop), o_(std::move(options)) {}

SentinelLocator::~SentinelLocator() { stop(); }

void SentinelLocator::start(Listener* listener) {
  listener_ = listener;
  go(Step::kAsk);
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_timer_start(timer_, on_timer, 0, kTickMs);
}

void SentinelLocator::go(Step s) {
  step_ = s;
  step_started_us_ = steady_us();
}

void SentinelLocator::drop(std::unique_ptr<HiredisLink>& link) {
  ++attempt_;  // what the link still had fails: not an answer of the current attempt
  link.reset();
}

void SentinelLocator::stop() {
  drop(probe_);
  drop(sub_);
  drop(query_);
  if (timer_ != nullptr) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
}

bool SentinelLocator::locate(Endpoint* out, std::string* why) const {
  if (!known_) {
    *why = "no L2 master confirmed yet (asking the sentinels for '" + o_.master_name + "')";
    return false;
  }
  *out = master_;
  return true;
}

void SentinelLocator::link_lost() {
  if (!in_listener_) rediscover("data link to the master lost");
}

void SentinelLocator::info(std::string& out) const {
  metrics::info_field(out, "l2_mode", "sentinel");
  metrics::info_field(out, "l2_sentinel_master", o_.master_name);
  metrics::info_field(out, "l2_master", known_ ? endpoint_text(master_) : std::string());
  metrics::info_field(out, "l2_master_known", known_ ? 1 : 0);
  metrics::info_field(out, "l2_master_switches", switches_);
  metrics::info_field(out, "l2_sentinel", endpoint_text(o_.sentinels[current_]));
  metrics::info_field(out, "l2_sentinels", o_.sentinels.size());
}

std::unique_ptr<HiredisLink> SentinelLocator::open(const LinkOptions& base, const Endpoint& at,
                                                   const char* name, bool subscriber) {
  LinkOptions o = base;
  o.endpoint = at;
  o.locator = nullptr;
  o.on_auth_refused = nullptr;
  if (subscriber) o.request_timeout_ms = kNoRequestTimeout;
  auto link = std::make_unique<HiredisLink>(loop_, std::move(o), name,
                                            subscriber ? on_sub_state : nullptr, this);
  if (subscriber) link->set_push_handler(on_push, this);
  link->start();
  return link;
}

void SentinelLocator::on_timer(uv_timer_t* t) { static_cast<SentinelLocator*>(t->data)->tick(); }

void SentinelLocator::tick() {
  if (announced_) {  // +switch-master: check the announced master, as one found by asking
    candidate_ = *announced_;
    announced_.reset();
    known_ = false;
    drop(probe_);
    ++attempt_;  // a query in flight no longer counts
    go(Step::kProbe);
    log::warn("sentinel: +switch-master announces {} for '{}'", endpoint_text(candidate_),
              o_.master_name);
  }
  step();
  follow_subscription();
}

void SentinelLocator::step() {
  const uint64_t now = steady_us();
  const uint64_t connect_deadline_us =
      static_cast<uint64_t>(o_.sentinel_link.connect_timeout_ms) * 1000 + 100000;
  switch (step_) {
    case Step::kAsk:
      if (!query_) query_ = open(o_.sentinel_link, o_.sentinels[current_], "sentinel", false);
      if (query_->connected()) {
        std::string_view ask[] = {"SENTINEL", "get-master-addr-by-name", o_.master_name};
        go(Step::kAsking);
        query_->send(ask, std::make_unique<Answer>(this, false));
      } else if (now - step_started_us_ > connect_deadline_us) {
        next_sentinel("cannot reach: " + query_->last_error());
      }
      break;
    case Step::kAskFailed:
      next_sentinel(failure_);
      break;
    case Step::kProbe:
      if (!probe_) probe_ = open(o_.master_link, candidate_, "sentinel-probe", false);
      if (probe_->connected()) {
        std::string_view role[] = {"ROLE"};
        go(Step::kProbing);
        probe_->send(role, std::make_unique<Answer>(this, true));
      } else if (now - step_started_us_ > connect_deadline_us) {
        pause(endpoint_text(candidate_) + " unreachable: " + probe_->last_error());
      }
      break;
    case Step::kProbeFailed:
      pause(failure_);
      break;
    case Step::kConfirmed:
      drop(probe_);
      adopt(candidate_);
      break;
    case Step::kPause:
      if (now >= pause_until_us_) go(Step::kAsk);
      break;
    case Step::kAsking:
    case Step::kProbing:
    case Step::kKnown:
      break;
  }
}

void SentinelLocator::follow_subscription() {
  if (!sub_) {
    sub_ = open(o_.sentinel_link, o_.sentinels[current_], "sentinel-sub", true);
    subscribed_ = false;
  }
  if (sub_lost_) {  // (the sentinel may be gone: asking finds one that answers)
    sub_lost_ = false;
    subscribed_ = false;
    rediscover("subscription to the sentinel lost");
  }
  if (sub_->connected() && !subscribed_) {
    std::string_view sub[] = {"SUBSCRIBE", "+switch-master"};
    subscribed_ = sub_->send_push(sub);
    // Messages sent while we were not subscribed are lost: ask again.
    if (subscribed_ && subscribed_once_) rediscover("subscribed to a sentinel again");
    subscribed_once_ = subscribed_once_ || subscribed_;
  }
}

void SentinelLocator::on_sub_state(void* ctx, bool connected) {
  if (!connected) static_cast<SentinelLocator*>(ctx)->sub_lost_ = true;
}

void SentinelLocator::on_push(void* ctx, const redisReply* r) {
  auto* self = static_cast<SentinelLocator*>(ctx);
  Endpoint to;
  if (switch_master_message(r, self->o_.master_name, &to)) self->announced_ = to;
}

void SentinelLocator::rediscover(const std::string& why) {
  if (step_ != Step::kKnown) return;  // discovery already runs
  log::warn("sentinel: {}: asking the sentinels for '{}' again", why, o_.master_name);
  known_ = false;
  go(Step::kAsk);
}

void SentinelLocator::next_sentinel(const std::string& why) {
  log::warn("sentinel {}: {}", endpoint_text(o_.sentinels[current_]), why);
  drop(query_);
  drop(sub_);  // the subscription follows the sentinel in use
  current_ = (current_ + 1) % o_.sentinels.size();
  if (++failed_in_round_ >= o_.sentinels.size()) {
    failed_in_round_ = 0;
    pause("no sentinel named a master for '" + o_.master_name + "'");
    return;
  }
  go(Step::kAsk);
}

void SentinelLocator::pause(const std::string& why) {
  log::warn("sentinel: {} (asking again in {} ms)", why, o_.pause_ms);
  drop(probe_);
  known_ = false;
  go(Step::kPause);
  pause_until_us_ = steady_us() + static_cast<uint64_t>(o_.pause_ms) * 1000;
}

void SentinelLocator::adopt(const Endpoint& master) {
  const bool moved = ever_known_ && !(master == master_);
  if (moved) ++switches_;
  failed_in_round_ = 0;
  master_ = master;
  known_ = true;
  ever_known_ = true;
  go(Step::kKnown);
  log::info("sentinel: master '{}' is {}{}", o_.master_name, endpoint_text(master),
            moved ? " (moved: a failover)" : "");
  if (listener_ == nullptr) return;
  in_listener_ = true;
  listener_->on_l2_located(master, moved);
  in_listener_ = false;
}

}  // namespace tiercache::sidecar
