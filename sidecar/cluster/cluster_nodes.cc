// ClusterLink's nodes and topology (see cluster_link.h): one link per node, made on first use
// (masters and their replicas, as soon as a topology names them); CLUSTER SLOTS asked of the
// seeds, then of a connected master (on MOVED, a lost master link, at every tick while a master
// is down or, for refresh_ms, while a slot has no master, and every refresh_ms), and the
// topology applied. The requests' side is cluster_link.cc.
#include <algorithm>

#include "shared/resp/reply_parser.h"
#include "sidecar/cluster/cluster_link.h"
#include "sidecar/link/hiredis_link.h"

namespace tiercache::sidecar::cluster {

class ClusterLink::SlotsDone final : public Completion {
 public:
  SlotsDone(ClusterLink& link, std::string host, size_t seed)
      : link_(link), host_(std::move(host)), seed_(seed) {}
  void on_reply(const redisReply* r) override { link_.on_slots(host_, seed_, r); }

 private:
  ClusterLink& link_;
  std::string host_;
  size_t seed_;
};

L2Link* ClusterLink::node(const std::string& host, int port) {
  auto [it, fresh] = nodes_.try_emplace(node_name(host, port));
  if (fresh) {
    it->second = options_.make_link(Endpoint{false, host, port});
    if (!stopped_) it->second->start();
  }
  return it->second.get();
}

L2Link* ClusterLink::master_link(int slot) {
  if (masters_.empty()) return nullptr;
  if (slot < 0) return masters_[reachable_index()];  // keyless: one dead master won't fail them
  const int m = topology_.master_of(static_cast<uint16_t>(slot));
  return m < 0 ? nullptr : masters_[static_cast<size_t>(m)];
}

// Not "every slot covered": a slot no master serves (a reply taken mid-failover, or a cluster
// with cluster-require-full-coverage no) fails alone, as a dead master's slots do; the writes
// of the other slots go on (WritePath commits only while this is true).
bool ClusterLink::connected() const {
  if (!known_ || stopped_) return false;
  for (const L2Link* m : masters_)
    if (m->connected()) return true;
  return false;
}

size_t ClusterLink::reachable_index() const {
  for (size_t m = 0; m < masters_.size(); ++m)
    if (masters_[m]->connected()) return m;
  return 0;
}

bool ClusterLink::reachable_master(NodeAddress* out) const {
  if (masters_.empty()) return false;
  *out = topology_.masters()[reachable_index()];
  return true;
}

void ClusterLink::reconnect(const std::string& why) {
  for (auto& [name, link] : nodes_) link->reconnect(why);
  refresh_wanted_ = true;
}

uint64_t ClusterLink::reconnects() const {
  uint64_t n = 0;
  for (const auto& [name, link] : nodes_) n += link->reconnects();
  return n;
}

const metrics::Histogram& ClusterLink::latency_us() const {
  latency_ = metrics::Histogram{};  // every node's link merged: the worst master shows in max
  for (const auto& [name, link] : nodes_) latency_.merge(link->latency_us());
  return latency_;
}

void ClusterLink::node_state(bool connected) {
  if (!connected) refresh_wanted_ = true;
  if (!known_ || refresh_wanted_) discover();
}

void ClusterLink::tick(uint64_t now_ms) {
  now_ms_ = now_ms;
  retry_txns();
  retry_parts();
  if (!known_ || refresh_wanted_ ||
      now_ms - last_refresh_ms_ >= static_cast<uint64_t>(options_.refresh_ms))
    discover();
}

// Asks CLUSTER SLOTS of a connected master, or (before the first discovery) of the seeds in
// turn; nothing connected: the next node_state() or tick() tries again.
void ClusterLink::discover() {
  if (discovering_ || stopped_) return;
  std::string_view args[] = {"CLUSTER", "SLOTS"};
  auto ask = [&](L2Link* l, const std::string& host, size_t seed) {
    if (l == nullptr || !l->connected()) return false;
    discovering_ = true;
    last_refresh_ms_ = now_ms_;
    l->send(args, std::make_unique<SlotsDone>(*this, host, seed));
    return true;
  };
  for (size_t m = 0; m < masters_.size(); ++m)
    if (ask(masters_[m], topology_.masters()[m].host, SIZE_MAX)) return;
  for (size_t s = 0; s < options_.seeds.size(); ++s) {
    if (std::find(seed_refusals_.begin(), seed_refusals_.end(), s) != seed_refusals_.end())
      continue;  // it answered it is no cluster node: the next seed
    const Endpoint& e = options_.seeds[s];
    if (ask(node(e.host, e.port), e.host, s)) return;
  }
}

void ClusterLink::on_slots(const std::string& host, size_t seed, const redisReply* r) {
  discovering_ = false;
  if (r == nullptr) return;  // that node went away: tried again on the next tick
  if (r->type == REDIS_REPLY_ERROR) {
    last_error_ = "CLUSTER SLOTS: " + std::string(r->str, r->len);
    if (known_ || seed == SIZE_MAX) return;
    if (std::find(seed_refusals_.begin(), seed_refusals_.end(), seed) == seed_refusals_.end())
      seed_refusals_.push_back(seed);
    if (seed_refusals_.size() == options_.seeds.size() && options_.on_refused)
      options_.on_refused("l2-mode cluster: " + endpoint_text(options_.seeds[seed]) +
                          " answered CLUSTER SLOTS with \"" + std::string(r->str, r->len) +
                          "\": the l2 seeds must be Redis Cluster nodes (cluster-enabled yes)");
    return;
  }
  std::string wire = as_resp(r);
  std::vector<resp::ReplyToken> tokens;
  size_t used = 0;
  Topology t;
  if (resp::parse_reply(wire, &tokens, &used) != resp::ReplyStatus::kOk) return;
  if (std::string err = parse_cluster_slots(tokens, host, &t); !err.empty()) {
    last_error_ = "CLUSTER SLOTS: " + err;
    return;
  }
  apply(std::move(t));
  // While a master's connection is down (it died: a failover is coming), look again at every
  // tick, not every refresh_ms: the replica's promotion is then seen within a tick. While some
  // slot has no master, too, for refresh_ms: a reply taken mid-failover can leave a range out
  // for a moment; a cluster that leaves slots unserved for longer (cluster-require-full-coverage
  // no) is then asked every refresh_ms, as usual, not ten times a second.
  if (!topology_.covers_all_slots() && !uncovered_) uncovered_since_ms_ = now_ms_;
  uncovered_ = !topology_.covers_all_slots();
  refresh_wanted_ =
      (uncovered_ && now_ms_ - uncovered_since_ms_ < static_cast<uint64_t>(options_.refresh_ms)) ||
      std::any_of(masters_.begin(), masters_.end(),
                  [](const L2Link* m) { return !m->connected(); });
}

void ClusterLink::apply(Topology t) {
  // Replicas are connected to ahead of need: a promoted one answers at once, instead of failing
  // requests while its link is first being made.
  for (const SlotRange& r : t.ranges())
    for (const NodeAddress& n : r.replicas) node(n.host, n.port);
  bool changed = !known_ || t.masters() != topology_.masters() ||
                 t.ranges().size() != topology_.ranges().size();
  for (size_t i = 0; !changed && i < t.ranges().size(); ++i) {
    const SlotRange &a = t.ranges()[i], &b = topology_.ranges()[i];
    changed = a.first != b.first || a.last != b.last || !(a.master == b.master);
  }
  if (!changed) return;
  topology_ = std::move(t);
  known_ = true;
  masters_.clear();
  for (const NodeAddress& m : topology_.masters()) masters_.push_back(node(m.host, m.port));
  if (listener_ != nullptr) listener_->on_topology(topology_);
}

}  // namespace tiercache::sidecar::cluster
