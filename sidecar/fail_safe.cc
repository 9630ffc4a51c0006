// The bus's health events and the fail-safe they drive (--stale-if-error-ms). With fail-safe
// off, losing the bus flushes L1 at once and reads go to the L2 (its error while it is away).
// With it on, losing the bus keeps L1 and opens a stale window: reads that hit L1 are answered
// while L1 was last vouched for (l1::Store::vouched_ms, a bus message of ours seen back) at
// most N ms ago; misses and writes still get the L2's error. The window is published in the
// segment (l1::Store::set_stale_window) so direct readers apply the same rule. It closes, and
// L1 is flushed first, when it expires (cron), when the L2 answers on a data connection made
// since (the one held at entry may not have met the outage yet), or when the bus is healthy
// again: a copy the L2 no longer holds is never answered after that.
// In l2-mode cluster the same holds per master (slot_stale.h): a master's lost tracking
// keeps only its slots as stale, each window closing when it expires, when a key of the slot
// is answered by its master (a probe), or when the master's tracking or the slot's owner
// changes. Direct readers are not told: the entries are dropped when the window closes (within
// a cron tick of it), and until then a stale answer is what fail-safe allows.

#include <fmt/format.h>

#include "shared/log/log.h"
#include "sidecar/clock.h"
#include "sidecar/sidecar.h"
#include "sidecar/state.h"

namespace tiercache::sidecar {

namespace {

// A PING on a data connection made after fail-safe was entered: an answer means the L2 is
// reachable again, so L1 must stop answering copies it may no longer hold. `entry` is the
// fail-safe it was sent for (an answer for an earlier one proves nothing about this one).
struct ProbeOp final : Op {
  ProbeOp(Sidecar& s, uint64_t entry) : Op(s), entry(entry) {}
  void on_reply(const redisReply* r) override { s.l2_probed(entry, r != nullptr); }
  uint64_t entry;
};

// A read of a key in an open slot (slot_stale.h): answered by its master means it is reachable
// again, so its slots must stop answering stale copies.
struct SlotProbeOp final : Op {
  SlotProbeOp(Sidecar& s, uint16_t slot) : Op(s), slot(slot) {}
  void on_reply(const redisReply* r) override { s.slot_probed(slot, r); }
  uint16_t slot;
};

}  // namespace

L1Use Sidecar::l1_use() const {
  if (l1_serving()) return L1Use::kServe;
  if (!stale_open_) return L1Use::kOff;
  const uint64_t vouched = l1_->vouched_ms();
  const uint64_t now = steady_us() / 1000;
  if (vouched == 0 || vouched > now ||
      now - vouched > static_cast<uint64_t>(config_.stale_if_error_ms))
    return L1Use::kOff;
  return L1Use::kStale;
}

void Sidecar::enter_fail_safe(const std::string& why) {
  // Fills of fetches begun before now must not land: the same guard as a flush, without one.
  reads_.refuse_fills_in_flight();
  if (fail_safe_) return;
  fail_safe_ = true;
  stale_open_ = true;
  probe_sent_ = false;
  ++fail_safe_epoch_;
  // The connection the data link holds now may be one the outage has not reached yet (a cut
  // reaches the bus's connection first): its answer proves nothing. Probe only on a later one.
  probe_from_losses_ = l2_->reconnects() + (l2_->connected() ? 1 : 0);
  stats_.fail_safe_entered++;
  l1_->set_stale_window(static_cast<uint64_t>(config_.stale_if_error_ms));
  log::warn("fail-safe: {}; answering L1 hits verified within {} ms", why,
            config_.stale_if_error_ms);
}

void Sidecar::close_stale_window(const char* why) {
  if (!stale_open_) return;
  stale_open_ = false;
  reads_.invalidate_db(invalidation::kAllDbs);  // flush first: readers then see nothing old
  l1_->set_stale_window(0);
  log::warn("fail-safe: {}; L1 flushed, no more stale answers", why);
}

void Sidecar::l2_probed(uint64_t entry, bool answered) {
  if (entry != fail_safe_epoch_) return;  // sent for an earlier fail-safe
  probe_sent_ = false;  // unanswered (link lost again, timed out): probe again later
  if (answered && fail_safe_) close_stale_window("the L2 answers again");
}

void Sidecar::fail_safe_cron() {
  if (!stale_open_) return;
  if (l1_use() == L1Use::kOff) {
    close_stale_window("stale window expired");
    return;
  }
  // The data link reconnected while the bus is still down: ask the L2 for proof of life.
  if (l2_->connected() && l2_->reconnects() >= probe_from_losses_ && !probe_sent_) {
    probe_sent_ = true;
    std::string_view ping[] = {"PING"};
    l2_->send(ping, std::make_unique<ProbeOp>(*this, fail_safe_epoch_));
  }
}

// ---- bus events ----------------------------------------------------------------------------

void Sidecar::on_invalidation(const invalidation::Message& m) {
  reads_.invalidate(m.groups);
  for (const auto& g : m.groups)
    if (!g.flush) stats_.invalidated_keys_received += g.keys.size();
}

void Sidecar::on_keys_invalidated(std::span<const std::string_view> keys) {
  for (std::string_view k : keys) reads_.invalidate_key_in_every_db(k);
  stats_.invalidated_keys_received += keys.size();
}

void Sidecar::on_bus_unhealthy(const std::string& why) {
  // Fail-safe keeps L1 only when it holds something vouched for and the bus is really down: a
  // sequence gap on a healthy bus, or the start-up subscription, flushes as without it.
  if (config_.stale_if_error_ms > 0 && (fail_safe_ || (!bus_->healthy() && l1_->vouched_ms())))
    enter_fail_safe("invalidation bus lost (" + why + ")");
  else
    reads_.invalidate_db(invalidation::kAllDbs);
}

void Sidecar::on_bus_healthy() {
  if (fail_safe_) {
    fail_safe_ = false;
    if (stale_open_)
      close_stale_window("the invalidation bus is back");
    else
      reads_.invalidate_db(invalidation::kAllDbs);
    log::info("fail-safe over: L1 serves again");
  }
  // Direct readers trust L1 once one of our messages comes back (on_bus_current): send one now
  // rather than at the next heartbeat.
  writes_.heartbeat();
}

void Sidecar::on_bus_current(uint64_t sent_ms) { l1_->mark_current(sent_ms); }

void Sidecar::on_slots_unhealthy(std::span<const uint16_t> slots, uint64_t vouched_ms,
                                 const std::string& why) {
  std::vector<uint16_t> drop;
  const size_t open_before = slot_stale_.open_count();
  slot_stale_.open(slots, vouched_ms, steady_us() / 1000, &drop);
  if (slot_stale_.open_count() > open_before) {
    reads_.refuse_fills_in_flight();  // (fills of these slots are refused anyway: not followed)
    stats_.fail_safe_entered++;
    log::warn("fail-safe: {} hash slot(s) answered stale, verified within {} ms ({})",
              slot_stale_.open_count() - open_before, config_.stale_if_error_ms, why);
  }
  on_slots_dropped(drop, why);
}

bool Sidecar::key_stale_ok(std::string_view key) const {
  return slot_stale_.open_count() > 0 &&
         slot_stale_.answers(cluster::key_slot(key), steady_us() / 1000);
}

void Sidecar::slot_fail_safe_cron() {
  if (slot_stale_.open_count() == 0) return;
  std::vector<uint16_t> drop;
  slot_stale_.expire(steady_us() / 1000, &drop);
  on_slots_dropped(drop, "fail-safe: stale window expired");
  if (slot_probe_sent_ || cluster_ == nullptr) return;
  const int slot = slot_stale_.next_open(slot_probe_next_);
  if (slot < 0) return;
  slot_probe_next_ = slot + 1;
  slot_probe_sent_ = true;
  const std::string key =
      fmt::format("{}probe:{{{}}}", kReservedPrefix, cluster::slot_tag(static_cast<uint16_t>(slot)));
  std::string_view exists[] = {"EXISTS", key};
  l2_->send(exists, std::make_unique<SlotProbeOp>(*this, static_cast<uint16_t>(slot)));
}

void Sidecar::slot_probed(uint16_t slot, const redisReply* r) {
  slot_probe_sent_ = false;
  if (r == nullptr || r->type != REDIS_REPLY_INTEGER || cluster_ == nullptr) return;
  // The slot's master answers: every open slot it serves closes (dropped first).
  const cluster::Topology& t = cluster_->topology();
  const int master = t.master_of(slot);
  std::vector<uint16_t> drop;
  slot_stale_.close_if([&](uint16_t s) { return t.master_of(s) == master; }, &drop);
  on_slots_dropped(drop, "fail-safe: the slots' master answers again");
}

void Sidecar::on_slots_dropped(std::span<const uint16_t> slots, const std::string& why) {
  if (slots.empty()) return;
  slot_stale_.close(slots);
  log::info("dropping {} hash slot(s) from L1: {}", slots.size(), why);
  reads_.invalidate_slots(slots);
}

}  // namespace tiercache::sidecar
