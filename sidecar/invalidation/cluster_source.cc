// One tracking source per cluster master, seen as one (see cluster_source.h). The data flow:
// on_topology reconciles the masters (kept, replaced when their heartbeat slot left them,
// created, retired) and drops the slots that changed owner; each master's events come back
// through its Master (the per-master listener) and are combined here (per slot, or all or
// nothing).
#include "sidecar/invalidation/cluster_source.h"

#include <fmt/format.h>

#include <algorithm>

#include "shared/log/log.h"

namespace tiercache::sidecar {

namespace {

Endpoint endpoint_of(const cluster::NodeAddress& n) { return Endpoint{false, n.host, n.port}; }

void add(BusStats& to, const BusStats& s) {
  to.received += s.received;
  to.own_echoes += s.own_echoes;
  to.gaps += s.gaps;
  to.resets += s.resets;
  to.bad_messages += s.bad_messages;
  to.bytes_received += s.bytes_received;
  to.refused += s.refused;
}

}  // namespace

std::string cluster_heartbeat_key(uint16_t slot, uint64_t origin) {
  return fmt::format("{}hb:{{{}}}{:016x}", kReservedPrefix, cluster::slot_tag(slot), origin);
}

ClusterSource::ClusterSource(cluster::ClusterView& view, TrackingOptions options,
                             uint64_t origin, MasterSourceFactory factory, BusListener* listener,
                             bool per_slot)
    : view_(view),
      options_(std::move(options)),
      origin_(origin),
      factory_(std::move(factory)),
      listener_(listener),
      per_slot_(per_slot) {
  slot_owner_.fill(-1);
}

ClusterSource::~ClusterSource() {
  if (started_) stop();
}

void ClusterSource::start() {
  started_ = true;
  view_.set_topology_listener(this);
  on_topology(view_.topology());
}

void ClusterSource::stop() {
  started_ = false;
  view_.set_topology_listener(nullptr);
  for (auto& m : masters_) retire(std::move(m));
  masters_.clear();
  // A later start() begins as the first: every slot's owner unknown.
  slot_owner_.fill(-1);
  owners_.clear();
  owner_master_.clear();
  known_ = false;
  reported_healthy_ = false;
}

bool ClusterSource::healthy() const {
  if (!started_ || !known_) return false;
  const auto up = [](const auto& m) { return m->source->healthy(); };
  // Per slot: L1 serves some keys (which ones: slot_healthy).
  if (per_slot_) return std::any_of(masters_.begin(), masters_.end(), up);
  return std::all_of(masters_.begin(), masters_.end(), up);
}

bool ClusterSource::slot_healthy(uint16_t slot) const {
  if (!started_ || slot >= cluster::kSlots) return false;
  const int o = slot_owner_[slot];
  if (o < 0) return false;
  const Master* m = owner_master_[o];
  return m != nullptr && m->source->healthy();
}

size_t ClusterSource::slots_unhealthy() const {
  size_t n = 0;
  for (int s = 0; s < cluster::kSlots; ++s) n += slot_healthy(static_cast<uint16_t>(s)) ? 0 : 1;
  return n;
}

std::vector<uint16_t> ClusterSource::slots_of(const Master& m) const {
  std::vector<uint16_t> out;
  for (int s = 0; s < cluster::kSlots; ++s) {
    const int o = slot_owner_[s];
    if (o >= 0 && owner_master_[o] == &m) out.push_back(static_cast<uint16_t>(s));
  }
  return out;
}

void ClusterSource::reconnect(const std::string& why) {
  for (auto& m : masters_) m->source->reconnect(why);
}

void ClusterSource::heartbeat(L2Link& link) {
  for (auto& m : masters_) m->source->heartbeat(link);
}

const BusStats& ClusterSource::stats() const {
  stats_ = gone_stats_;
  for (const auto& m : masters_) add(stats_, m->source->stats());
  return stats_;
}

const metrics::Histogram& ClusterSource::lag_us() const {
  lag_ = gone_lag_;
  for (const auto& m : masters_) lag_.merge(m->source->lag_us());
  return lag_;
}

std::vector<std::pair<Endpoint, std::string>> ClusterSource::heartbeat_keys() const {
  std::vector<std::pair<Endpoint, std::string>> out;
  for (const auto& m : masters_)
    out.emplace_back(m->node, cluster_heartbeat_key(m->hb_slot, origin_));
  return out;
}

// ---- topology ------------------------------------------------------------------------------

void ClusterSource::on_topology(const cluster::Topology& now) {
  if (!started_) return;
  std::vector<Endpoint> owners;
  for (const auto& n : now.masters()) owners.push_back(endpoint_of(n));
  // Which slots changed owner (by address: indexes differ between topologies), and each
  // master's first slot (its heartbeat slot when it needs a new one).
  std::vector<uint16_t> moved;
  std::vector<int> first_slot(owners.size(), -1);
  for (int s = 0; s < cluster::kSlots; ++s) {
    const int o = now.master_of(static_cast<uint16_t>(s));
    const int old = slot_owner_[s];
    if ((o < 0) != (old < 0) || (o >= 0 && owners[o] != owners_[old]))
      moved.push_back(static_cast<uint16_t>(s));
    if (o >= 0 && first_slot[o] < 0) first_slot[o] = s;
    slot_owner_[s] = static_cast<int16_t>(o);
  }
  owners_ = owners;
  owner_master_.assign(owners_.size(), nullptr);  // (filled once the masters are reconciled)

  // Keep the masters still there whose heartbeat slot they still serve; make the others.
  std::vector<std::unique_ptr<Master>> next;
  std::vector<Master*> fresh;
  for (size_t i = 0; i < owners.size(); ++i) {
    if (first_slot[i] < 0) continue;  // a master that serves nothing needs no bus
    auto it = std::find_if(masters_.begin(), masters_.end(), [&](const auto& m) {
      return m && m->node == owners[i];
    });
    if (it != masters_.end() && now.master_of((*it)->hb_slot) == static_cast<int>(i)) {
      next.push_back(std::move(*it));
      continue;
    }
    if (it != masters_.end()) {
      log::info("cluster invalidation: {} no longer serves its heartbeat slot {}",
                endpoint_text(owners[i]), (*it)->hb_slot);
      retire(std::move(*it));
    }
    next.push_back(make_master(owners[i], static_cast<uint16_t>(first_slot[i])));
    fresh.push_back(next.back().get());
  }
  for (auto& m : masters_)
    if (m) {
      log::info("cluster invalidation: {} is no longer a master", endpoint_text(m->node));
      retire(std::move(m));
    }
  masters_ = std::move(next);
  known_ = !masters_.empty();
  for (auto& m : masters_)
    for (size_t i = 0; i < owners_.size(); ++i)
      if (owners_[i] == m->node) owner_master_[i] = m.get();

  if (!moved.empty()) {
    // Copies read from a slot's old owner must not be answered (nor fills in flight land):
    // drop those slots, fail-safe or not. Marks from before say nothing of the new owners.
    log::warn("cluster topology: {} slot(s) changed owner ({} masters): dropping them from L1",
              moved.size(), masters_.size());
    for (auto& m : masters_) m->current_ms = 0;
    listener_->on_slots_dropped(moved, "cluster topology: slots changed owner");
  }
  for (Master* m : fresh) m->source->start();
  report_health(known_ ? "cluster topology changed: a master's tracking is not set up yet"
                       : "cluster topology unknown (no master)");
}

std::unique_ptr<ClusterSource::Master> ClusterSource::make_master(const Endpoint& node,
                                                                  uint16_t hb_slot) {
  auto m = std::make_unique<Master>();
  m->owner = this;
  m->node = node;
  m->hb_slot = hb_slot;
  TrackingOptions o = options_;
  o.heartbeat_key = cluster_heartbeat_key(hb_slot, origin_);
  m->source = factory_(node, std::move(o), m.get());
  return m;
}

void ClusterSource::retire(std::unique_ptr<Master> m) {
  m->live = false;
  m->source->stop();
  add(gone_stats_, m->source->stats());
  gone_lag_.merge(m->source->lag_us());
}

// ---- what the masters report ---------------------------------------------------------------

void ClusterSource::report_health(const std::string& why) {
  const bool h = healthy();
  if (h == reported_healthy_) return;
  reported_healthy_ = h;
  if (h) {
    if (per_slot_)
      log::info("cluster invalidation: tracking on {} master(s); L1 serves their slots",
                std::count_if(masters_.begin(), masters_.end(),
                              [](const auto& m) { return m->source->healthy(); }));
    else
      log::info("cluster invalidation: tracking on all {} masters", masters_.size());
    listener_->on_bus_healthy();
  } else {
    listener_->on_bus_unhealthy(why);
  }
}

void ClusterSource::master_unhealthy(Master& m, const std::string& why) {
  const uint64_t vouched = m.current_ms;
  m.current_ms = 0;
  if (per_slot_) {
    // Only this master's slots: dropped now, or kept as stale in fail-safe (the listener's
    // choice; each time again, as below), not served fresh nor filled until its source is
    // healthy (slot_healthy), and dropped then (on_bus_healthy).
    m.kept_stale |= vouched != 0;  // the listener may keep its slots (fail-safe)
    listener_->on_slots_unhealthy(slots_of(m), vouched,
                                  "master " + endpoint_text(m.node) + ": " + why);
    report_health("no master's tracking is set up");  // the last one lost: L1 serves nothing
    return;
  }
  reported_healthy_ = false;
  // Always passed on, as one L2's source does: the sidecar flushes even if already unhealthy
  // (a source about to become healthy flushes what it may have missed this way).
  listener_->on_bus_unhealthy("master " + endpoint_text(m.node) + ": " + why);
}

void ClusterSource::master_current(Master& m, uint64_t sent_ms) {
  m.current_ms = sent_ms;
  if (!healthy()) return;
  // Every master's invalidations up to the oldest of their latest marks have been applied. Per
  // slot, a master whose source is down is left out: its slots were dropped when it went down
  // and nothing of theirs has been filled since.
  uint64_t low = UINT64_MAX;
  for (const auto& x : masters_)
    if (!per_slot_ || x->source->healthy()) low = std::min(low, x->current_ms);
  if (low == 0 || low == UINT64_MAX || low <= reported_current_) return;
  reported_current_ = low;
  listener_->on_bus_current(low);
}

void ClusterSource::Master::on_invalidation(const invalidation::Message& msg) {
  if (live) owner->listener_->on_invalidation(msg);
}

void ClusterSource::Master::on_keys_invalidated(std::span<const std::string_view> keys) {
  if (live) owner->listener_->on_keys_invalidated(keys);
}

void ClusterSource::Master::on_bus_unhealthy(const std::string& why) {
  if (live) owner->master_unhealthy(*this, why);
}

void ClusterSource::Master::on_bus_healthy() {
  if (!live) return;
  if (owner->per_slot_ && kept_stale)  // what fail-safe kept meanwhile goes: followed again
    owner->listener_->on_slots_dropped(owner->slots_of(*this),
                                       "master " + endpoint_text(node) + ": tracking set up");
  kept_stale = false;
  owner->report_health("");
}

void ClusterSource::Master::on_bus_current(uint64_t sent_ms) {
  if (live) owner->master_current(*this, sent_ms);
}

// ---- production ----------------------------------------------------------------------------

std::unique_ptr<ClusterSource> make_cluster_source(uv_loop_t* loop, cluster::ClusterView& view,
                                                   LinkOptions subscriber,
                                                   TrackingOptions options, uint64_t origin,
                                                   BusListener* listener, bool per_slot) {
  MasterSourceFactory factory = [loop, subscriber = std::move(subscriber)](
                                    const Endpoint& node, TrackingOptions o,
                                    BusListener* l) -> std::unique_ptr<InvalidationSource> {
    LinkOptions link = subscriber;
    link.endpoint = node;
    link.locator = std::make_shared<FixedLocator>(node);
    return std::make_unique<TrackingSource>(loop, std::move(link), std::move(o), l);
  };
  return std::make_unique<ClusterSource>(view, std::move(options), origin, std::move(factory),
                                         listener, per_slot);
}

}  // namespace tiercache::sidecar
