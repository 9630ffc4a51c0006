// The CLIENT TRACKING source of invalidations (see tracking.h).
#include "sidecar/invalidation/tracking.h"

#include <algorithm>

#include "shared/log/log.h"
#include "sidecar/clock.h"

namespace tiercache::sidecar {

namespace {
bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}
std::string_view as_view(const redisReply* r) { return {r->str, r->len}; }
}  // namespace

void parse_tracking_push(const redisReply* r, TrackingPush* out) {
  out->kind = TrackingPush::Kind::kIgnored;
  out->keys.clear();
  out->bytes = 0;
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;
  const redisReply* kind = r->element[0];
  const redisReply* channel = r->element[1];
  if (kind->type != REDIS_REPLY_STRING || channel->type != REDIS_REPLY_STRING ||
      as_view(channel) != kTrackingChannel)
    return;
  const redisReply* body = r->element[2];
  if (as_view(kind) == "subscribe") {
    out->kind = TrackingPush::Kind::kSubscribed;
    return;
  }
  if (as_view(kind) != "message") return;
  if (body->type == REDIS_REPLY_NIL) {
    out->kind = TrackingPush::Kind::kFlush;
    return;
  }
  if (body->type != REDIS_REPLY_ARRAY) {
    out->kind = TrackingPush::Kind::kBad;
    return;
  }
  for (size_t i = 0; i < body->elements; ++i) {
    const redisReply* k = body->element[i];
    if (k->type != REDIS_REPLY_STRING) {
      out->kind = TrackingPush::Kind::kBad;
      out->keys.clear();
      out->bytes = 0;
      return;
    }
    out->keys.push_back(as_view(k));
    out->bytes += k->len;
  }
  out->kind = TrackingPush::Kind::kKeys;
}

bool normalize_prefixes(std::vector<std::string> in, std::vector<std::string>* out,
                        std::string* error) {
  out->clear();
  for (const std::string& p : in) {
    if (starts_with(p, kReservedPrefix)) {
      *error = "track-prefix '" + p + "' is under '" + std::string(kReservedPrefix) +
               "', reserved for the sidecars' own keys";
      return false;
    }
    if (p.empty()) return true;  // everything
  }
  std::sort(in.begin(), in.end());  // a prefix sorts right before the strings it covers
  for (std::string& p : in)
    if (out->empty() || !starts_with(p, out->back())) out->push_back(std::move(p));
  return true;
}

std::vector<std::string> tracking_command(int64_t redirect_id,
                                          const std::vector<std::string>& prefixes,
                                          const std::string& heartbeat_key) {
  std::vector<std::string> args = {"CLIENT", "TRACKING", "on", "REDIRECT",
                                   std::to_string(redirect_id), "BCAST"};
  if (prefixes.empty()) return args;  // the empty prefix: every key, the heartbeat's too
  bool heartbeat_covered = false;
  for (const std::string& p : prefixes) {
    args.push_back("PREFIX");
    args.push_back(p);
    heartbeat_covered |= starts_with(heartbeat_key, p);
  }
  if (!heartbeat_covered) {
    args.push_back("PREFIX");
    args.push_back(heartbeat_key);
  }
  return args;
}

// A reply of the set-up sequence (CLIENT ID, CLIENT TRACKING); nullptr when the connection
// went away meanwhile (its state change says so).
class TrackingSource::SetupStep final : public Completion {
 public:
  using Step = void (TrackingSource::*)(const redisReply*);
  SetupStep(TrackingSource* source, Step step) : source_(source), step_(step) {}
  void on_reply(const redisReply* r) override {
    if (r != nullptr) (source_->*step_)(r);
  }

 private:
  TrackingSource* source_;
  Step step_;
};

// The data link owns it and may answer after the source is gone: it holds no pointer to it.
class TrackingSource::HeartbeatDone final : public Completion {
 public:
  void on_reply(const redisReply* r) override { TrackingSource::heartbeat_answered(r); }
};

TrackingSource::TrackingSource(uv_loop_t* loop, LinkOptions link, TrackingOptions options,
                               BusListener* listener)
    : sub_(std::make_unique<HiredisLink>(loop, std::move(link), "tracking", on_state, this)),
      options_(std::move(options)),
      listener_(listener) {
  sub_->set_push_handler(on_push, this);
  timer_ = new uv_timer_t;
  uv_timer_init(loop, timer_);
  timer_->data = this;
}

TrackingSource::~TrackingSource() { stop(); }

void TrackingSource::start() {
  sub_->start();
  uv_timer_start(timer_, on_timer, 10, 10);
}

void TrackingSource::stop() {
  healthy_ = false;
  sub_->stop();
  if (timer_ == nullptr) return;
  uv_timer_stop(timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  timer_ = nullptr;
}

bool tracked_by(const std::vector<std::string>& prefixes, std::string_view key) {
  if (prefixes.empty()) return true;
  for (const std::string& p : prefixes)
    if (starts_with(key, p)) return true;
  return false;
}

bool TrackingSource::tracks(std::string_view key) const {
  return tracked_by(options_.prefixes, key);
}

void TrackingSource::on_state(void* ctx, bool connected) {
  auto* self = static_cast<TrackingSource*>(ctx);
  if (!connected) {
    self->go_unhealthy("tracking connection lost");
    return;
  }
  self->setting_up_ = true;
  self->connected_us_ = steady_us();
  std::string_view id[] = {"CLIENT", "ID"};
  self->sub_->send(id, std::make_unique<SetupStep>(self, &TrackingSource::on_client_id));
}

void TrackingSource::on_client_id(const redisReply* r) {
  if (r->type != REDIS_REPLY_INTEGER) {
    fail_setup("CLIENT ID answered " +
               (r->type == REDIS_REPLY_ERROR ? std::string(as_view(r)) : std::string("no id")));
    return;
  }
  std::vector<std::string> args = tracking_command(r->integer, options_.prefixes,
                                                   options_.heartbeat_key);
  std::vector<std::string_view> views(args.begin(), args.end());
  sub_->send(views, std::make_unique<SetupStep>(this, &TrackingSource::on_tracking_reply));
}

void TrackingSource::on_tracking_reply(const redisReply* r) {
  if (r->type != REDIS_REPLY_STATUS) {
    fail_setup("the L2 refused CLIENT TRACKING (" +
               (r->type == REDIS_REPLY_ERROR ? std::string(as_view(r)) : std::string("?")) +
               "); an L2 without it needs invalidation-source = publish");
    return;
  }
  std::string_view sub[] = {"SUBSCRIBE", kTrackingChannel};
  if (!sub_->send_push(sub)) fail_setup("cannot subscribe to " + std::string(kTrackingChannel));
}

void TrackingSource::fail_setup(const std::string& why) {
  ++stats_.refused;
  setting_up_ = false;
  if (!refusal_logged_) log::error("invalidation source: {}; L1 stays off, retrying", why);
  refusal_logged_ = true;
  go_unhealthy(why);
  sub_->reset(why);  // retried with the link's backoff
}

void TrackingSource::go_unhealthy(const std::string& why) {
  hb_sent_us_ = 0;
  if (healthy_) {
    healthy_ = false;
    ++stats_.resets;
    log::warn("invalidation source unhealthy: {}; L1 stops serving until tracking again", why);
  }
  listener_->on_bus_unhealthy(why);  // flushes L1 even if already unhealthy
}

void TrackingSource::on_push(void* ctx, const redisReply* r) {
  if (r != nullptr) static_cast<TrackingSource*>(ctx)->handle(r);
  // nullptr: the connection is lost; on_state(false) follows
}

void TrackingSource::handle(const redisReply* r) {
  stats_.bytes_received += resp_size(r);
  parse_tracking_push(r, &push_);
  switch (push_.kind) {
    case TrackingPush::Kind::kIgnored:
      return;
    case TrackingPush::Kind::kSubscribed:
      // Whatever was modified before tracking was on is unknown to us: flush, then trust.
      setting_up_ = false;
      refusal_logged_ = false;
      hb_sent_us_ = 0;
      listener_->on_bus_unhealthy("tracking (again): dropping what may have been missed");
      healthy_ = true;
      log::info("invalidation source: tracking {} prefix(es) on the L2",
                options_.prefixes.empty() ? std::string("every")
                                          : std::to_string(options_.prefixes.size()));
      listener_->on_bus_healthy();
      return;
    case TrackingPush::Kind::kBad:
      ++stats_.bad_messages;
      log::warn("invalidation source: malformed tracking message: flushing L1");
      listener_->on_bus_unhealthy("malformed tracking message");
      return;
    case TrackingPush::Kind::kFlush: {
      ++stats_.received;
      invalidation::Message all;
      all.groups.push_back(invalidation::Group{invalidation::kAllDbs, true, {}});
      listener_->on_invalidation(all);
      return;
    }
    case TrackingPush::Kind::kKeys:
      break;
  }
  ++stats_.received;
  auto hb = std::find(push_.keys.begin(), push_.keys.end(), options_.heartbeat_key);
  if (hb != push_.keys.end()) {
    push_.keys.erase(hb);
    ++stats_.own_echoes;
    if (hb_sent_us_ != 0 && healthy_) {
      const uint64_t sent = hb_sent_us_;
      hb_sent_us_ = 0;
      lag_.record(steady_us() - sent);
      listener_->on_keys_invalidated(push_.keys);  // keys before and with it: applied first
      listener_->on_bus_current(sent / 1000);
      return;
    }
  }
  if (!push_.keys.empty()) listener_->on_keys_invalidated(push_.keys);
}

void TrackingSource::heartbeat(L2Link& link) {
  if (!healthy_ || hb_sent_us_ != 0 || !link.connected()) return;
  const std::string n = std::to_string(++hb_count_);
  const std::string ttl = std::to_string(options_.heartbeat_ttl_ms);
  std::string_view set[] = {"SET", options_.heartbeat_key, n, "PX", ttl};
  const uint64_t now = steady_us();
  if (link.send(set, std::make_unique<HeartbeatDone>())) hb_sent_us_ = now;
}

void TrackingSource::heartbeat_answered(const redisReply* r) {
  // Unanswered (the data link failed or timed out: the L2 may be hung) or refused (OOM,
  // READONLY...): the heartbeat stays in flight, so it times out and the source with it.
  if (r != nullptr && r->type == REDIS_REPLY_ERROR)
    log::warn("invalidation source: the L2 refused the heartbeat write: {}", as_view(r));
}

void TrackingSource::on_timer(uv_timer_t* t) {
  auto* self = static_cast<TrackingSource*>(t->data);
  const uint64_t limit = static_cast<uint64_t>(self->options_.timeout_ms) * 1000;
  if (self->setting_up_ && steady_us() - self->connected_us_ > limit) {
    self->fail_setup("no answer to the tracking set-up within " +
                     std::to_string(self->options_.timeout_ms) + " ms");
    return;
  }
  if (!self->healthy_ || self->hb_sent_us_ == 0) return;
  if (steady_us() - self->hb_sent_us_ <= limit) return;
  // Overdue by the clock; read what the connection already holds first (after a stall the
  // message may be waiting in the socket: timers run before libuv polls).
  self->sub_->take_ready_input();
  if (!self->healthy_ || self->hb_sent_us_ == 0) return;
  if (steady_us() - self->hb_sent_us_ > limit) {
    self->go_unhealthy("heartbeat not seen back within " +
                       std::to_string(self->options_.timeout_ms) + " ms");
    self->sub_->reset("tracking heartbeat timeout");  // a fresh connection sets tracking up again
  }
}

}  // namespace tiercache::sidecar
