// The invalidation bus (see bus.h).
#include "sidecar/invalidation/bus.h"

#include <time.h>

#include "shared/log/log.h"
#include "sidecar/clock.h"

namespace tiercache::sidecar {

Bus::Bus(uv_loop_t* loop, LinkOptions options, std::string channel, uint64_t origin,
         int64_t timeout_ms, BusListener* listener)
    : sub_(std::make_unique<HiredisLink>(loop, std::move(options), "bus", on_state, this)),
      channel_(std::move(channel)),
      origin_(origin),
      timeout_ms_(timeout_ms),
      listener_(listener) {
  sub_->set_push_handler(on_push, this);
  uv_timer_init(loop, &timer_);
  timer_.data = this;
}

void Bus::start() {
  sub_->start();
  uv_timer_start(&timer_, on_timer, 10, 10);
}

void Bus::stop() {
  healthy_ = false;
  sub_->stop();
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void Bus::on_state(void* ctx, bool connected) {
  auto* self = static_cast<Bus*>(ctx);
  if (connected) {
    std::string_view args[] = {"SUBSCRIBE", self->channel_};
    // Unconfirmed (or unsent) SUBSCRIBEs are retried on a fresh connection by on_timer; not
    // from here, inside hiredis's connect callback, which must not free its context.
    self->subscribe_sent_us_ = steady_us();
    if (!self->sub_->send_push(args)) self->go_unhealthy("cannot subscribe", false);
  } else {
    self->subscribe_sent_us_ = 0;
    self->go_unhealthy("subscription connection lost", false);
  }
}

void Bus::go_unhealthy(const std::string& why, bool reconnect) {
  subscribed_ = false;
  outstanding_.clear();
  if (healthy_) {
    healthy_ = false;
    ++stats_.resets;
    log::warn("invalidation bus unhealthy: {}; L1 stops serving until resubscribed", why);
  }
  listener_->on_bus_unhealthy(why);  // flushes L1 even if already unhealthy
  if (reconnect) {
    subscribe_sent_us_ = 0;
    sub_->reset(why);
  }
}

void Bus::on_push(void* ctx, const redisReply* r) {
  auto* self = static_cast<Bus*>(ctx);
  if (r == nullptr) return;  // connection lost: on_state(false) follows
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
  self->stats_.bytes_received += resp_size(r);
  const redisReply* kind = r->element[0];
  if (kind->type != REDIS_REPLY_STRING) return;
  std::string_view k(kind->str, kind->len);
  if (k == "subscribe") {
    // Anything published while we were not subscribed is lost to us: flush, then trust again.
    self->subscribed_ = true;
    self->subscribe_sent_us_ = 0;
    self->last_seq_.clear();
    self->listener_->on_bus_unhealthy("resubscribed: dropping what may have been missed");
    self->healthy_ = true;
    log::info("invalidation bus subscribed to '{}'", self->channel_);
    self->listener_->on_bus_healthy();
    return;
  }
  if (k == "message" && r->element[2]->type == REDIS_REPLY_STRING) {
    self->handle_payload(std::string_view(r->element[2]->str, r->element[2]->len));
  }
}

void Bus::handle_payload(std::string_view payload) {
  invalidation::Message m;
  std::string error;
  if (!invalidation::decode(payload, &m, &error)) {
    ++stats_.bad_messages;
    log::warn("invalidation bus: undecodable message ({}): flushing L1", error);
    go_unhealthy("undecodable message", false);
    healthy_ = subscribed_ = true;  // still subscribed; the flush above made L1 safe
    listener_->on_bus_healthy();
    return;
  }
  if (m.origin == origin_) {
    ++stats_.own_echoes;
    uint64_t sent_us = 0;  // when we published it (steady clock), if we were expecting it
    while (!outstanding_.empty() && outstanding_.front().first <= m.seq) {
      if (outstanding_.front().first == m.seq) sent_us = outstanding_.front().second;
      outstanding_.pop_front();
    }
    if (healthy_ && sent_us != 0) listener_->on_bus_current(sent_us / 1000);
    return;
  }
  ++stats_.received;
  uint64_t now = wall_us();
  if (now > m.sent_at_us) lag_.record(now - m.sent_at_us);
  auto [it, fresh] = last_seq_.try_emplace(m.origin, m.seq);
  if (!fresh) {
    if (m.seq <= it->second) return;  // duplicate
    if (m.seq != it->second + 1) {
      ++stats_.gaps;
      it->second = m.seq;
      log::warn("invalidation bus: sequence gap from origin {:x}: flushing L1", m.origin);
      listener_->on_bus_unhealthy("sequence gap");
      listener_->on_bus_healthy();
      listener_->on_invalidation(m);
      return;
    }
    it->second = m.seq;
  }
  listener_->on_invalidation(m);
}

std::optional<uint64_t> Bus::publish(L2Link& link, const std::vector<invalidation::Group>& groups) {
  invalidation::Message m;
  m.origin = origin_;
  m.seq = ++seq_;
  m.sent_at_us = wall_us();
  m.groups = groups;
  msg_scratch_ = invalidation::encode(m);
  std::string_view pub[] = {"PUBLISH", channel_, msg_scratch_};
  if (link.send(pub, nullptr)) expect(m.seq, steady_us());
  return m.seq;
}

void Bus::heartbeat(L2Link& link) {
  if (!link.connected() || !healthy_) return;
  publish(link, {});
}

void Bus::expect(uint64_t seq, uint64_t sent_us) {
  if (subscribed_) outstanding_.emplace_back(seq, sent_us);
}

void Bus::forget(uint64_t seq) {
  for (auto it = outstanding_.begin(); it != outstanding_.end(); ++it) {
    if (it->first == seq) {
      outstanding_.erase(it);
      return;
    }
  }
}

void Bus::on_timer(uv_timer_t* t) {
  auto* self = static_cast<Bus*>(t->data);
  const uint64_t limit = static_cast<uint64_t>(self->timeout_ms_) * 1000;
  // Connected but never subscribed (an L2 that hangs, a proxy that accepts and forwards
  // nothing): without this the bus would wait for the confirmation forever.
  if (!self->subscribed_ && self->subscribe_sent_us_ != 0 &&
      steady_us() - self->subscribe_sent_us_ > limit) {
    self->go_unhealthy(
        "SUBSCRIBE not confirmed within " + std::to_string(self->timeout_ms_) + " ms", true);
    return;
  }
  if (!self->healthy_ || self->outstanding_.empty()) return;
  if (steady_us() - self->outstanding_.front().second <= limit) return;
  // Overdue by the clock; read what the subscription already holds first (after a stall the
  // message may be waiting in the socket: timers run before libuv polls).
  self->sub_->take_ready_input();
  if (!self->healthy_ || self->outstanding_.empty()) return;
  if (steady_us() - self->outstanding_.front().second > limit) {
    // Resubscribe from scratch: a fresh connection and SUBSCRIBE make it healthy again.
    self->go_unhealthy(
        "own message not seen back within " + std::to_string(self->timeout_ms_) + " ms", true);
  }
}

}  // namespace tiercache::sidecar
