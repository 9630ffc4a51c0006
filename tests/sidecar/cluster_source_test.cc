// Unit tests of the per-master invalidation source (sidecar/invalidation/cluster_source.h) over a
// fake ClusterView and fake per-master sources: one source per master, made and dropped as the
// topology changes; healthy only when every master is; a master's loss reported; the current
// mark the minimum over the masters; heartbeat keys in slots their master serves. Also the hash
// tag for every slot (cluster::slot_tag), and the production factory (real TrackingSources on a
// loop, never connected) made and dropped safely.
#include "sidecar/invalidation/cluster_source.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <algorithm>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "shared/resp/reply_parser.h"
#include "sidecar/cluster/slot.h"
#include "sidecar/cluster/topology.h"
#include "tests/sidecar/fake_l2.h"

namespace tiercache::sidecar {
namespace {

using cluster::key_slot;
using cluster::kSlots;
using cluster::slot_tag;
using cluster::Topology;
using testing::FakeL2Link;

// A topology from (first, last, port) ranges on 127.0.0.1, through the real CLUSTER SLOTS parser.
Topology topology(std::vector<std::tuple<int, int, int>> ranges) {
  std::string raw = "*" + std::to_string(ranges.size()) + "\r\n";
  for (auto [first, last, port] : ranges)
    raw += "*3\r\n:" + std::to_string(first) + "\r\n:" + std::to_string(last) +
           "\r\n*2\r\n$9\r\n127.0.0.1\r\n:" + std::to_string(port) + "\r\n";
  std::vector<resp::ReplyToken> tokens;
  size_t consumed = 0;
  REQUIRE(resp::parse_reply(raw, &tokens, &consumed) == resp::ReplyStatus::kOk);
  Topology t;
  REQUIRE(cluster::parse_cluster_slots(tokens, "127.0.0.1", &t) == "");
  return t;
}

Topology three_masters() {
  return topology({{0, 5460, 7000}, {5461, 10922, 7001}, {10923, 16383, 7002}});
}

class FakeView final : public cluster::ClusterView {
 public:
  const Topology& topology() const override { return now; }
  void set_topology_listener(Listener* l) override { listener = l; }
  void change(Topology t) {
    now = std::move(t);
    if (listener != nullptr) listener->on_topology(now);
  }
  Topology now;
  Listener* listener = nullptr;
};

// What the sidecar would hear.
struct Events final : BusListener {
  void on_invalidation(const invalidation::Message& m) override {
    for (const auto& g : m.groups) flushes += g.flush ? 1 : 0;
  }
  void on_keys_invalidated(std::span<const std::string_view> ks) override {
    for (auto k : ks) keys.emplace_back(k);
  }
  void on_bus_unhealthy(const std::string& why) override {
    ++unhealthy;
    last_why = why;
  }
  void on_bus_healthy() override { ++healthy; }
  void on_bus_current(uint64_t sent_ms) override { current.push_back(sent_ms); }
  void on_slots_unhealthy(std::span<const uint16_t> slots, uint64_t vouched_ms,
                          const std::string& why) override {
    vouched.push_back(vouched_ms);
    on_slots_dropped(slots, why);  // as the default: no fail-safe here
  }
  void on_slots_dropped(std::span<const uint16_t> slots, const std::string& why) override {
    ++flushes;
    dropped.emplace_back(slots.begin(), slots.end());
    last_why = why;
  }
  int flushes = 0, unhealthy = 0, healthy = 0;
  std::vector<std::vector<uint16_t>> dropped;  // each on_slots_dropped
  std::string last_why;
  std::vector<std::string> keys;
  std::vector<uint64_t> current;
  std::vector<uint64_t> vouched;  // each on_slots_unhealthy's
};

struct FakeMaster;
using Registry = std::vector<FakeMaster*>;

// One master's source: the test drives its health and marks through its listener.
struct FakeMaster final : InvalidationSource {
  FakeMaster(Registry& r, Endpoint n, TrackingOptions o, BusListener* l)
      : registry(r), node(std::move(n)), options(std::move(o)), listener(l) {
    registry.push_back(this);
  }
  ~FakeMaster() override { registry.erase(std::find(registry.begin(), registry.end(), this)); }
  void start() override { ++starts; }
  void stop() override {
    ++stops;
    up = false;
    listener->on_bus_unhealthy("stopped");  // as a source may: must be ignored
  }
  bool healthy() const override { return up; }
  void reconnect(const std::string&) override { ++reconnects; }
  std::string_view name() const override { return "fake"; }
  bool writes_publish() const override { return false; }
  std::optional<uint64_t> publish(L2Link&, const std::vector<invalidation::Group>&) override {
    return std::nullopt;
  }
  void forget(uint64_t) override {}
  void heartbeat(L2Link& link) override {
    if (!up) return;
    std::string_view set[] = {"SET", options.heartbeat_key, "1"};
    link.send(set, nullptr);
  }
  bool tracks(std::string_view) const override { return true; }
  const BusStats& stats() const override { return bus_stats; }
  const metrics::Histogram& lag_us() const override { return lag; }

  void go_up() {
    up = true;
    listener->on_bus_healthy();
  }
  void go_down(const std::string& why) {
    up = false;
    listener->on_bus_unhealthy(why);
  }

  Registry& registry;
  Endpoint node;
  TrackingOptions options;
  BusListener* listener;
  bool up = false;
  int starts = 0, stops = 0, reconnects = 0;
  BusStats bus_stats;
  metrics::Histogram lag;
};

struct Fixture {
  explicit Fixture(bool per_slot = false) {
    TrackingOptions o;
    o.prefixes = {"app:"};
    o.heartbeat_key = "__tiercache:hb:ignored";
    source = std::make_unique<ClusterSource>(
        view, o, 0xabc,
        [this](const Endpoint& n, TrackingOptions opts, BusListener* l) {
          return std::make_unique<FakeMaster>(masters, n, std::move(opts), l);
        },
        &events, per_slot);
  }
  FakeMaster* at(int port) {
    for (FakeMaster* m : masters)
      if (m->node.port == port) return m;
    return nullptr;
  }
  void all_up() {
    for (FakeMaster* m : std::vector<FakeMaster*>(masters)) m->go_up();
  }
  // Three masters, started, all tracking.
  void three_up() {
    view.change(three_masters());
    source->start();
    all_up();
  }
  FakeView view;
  Events events;
  Registry masters;
  std::unique_ptr<ClusterSource> source;
};

TEST_CASE("slot_tag: a short brace-free tag hashing to each of the 16384 slots") {
  size_t longest = 0;
  for (int s = 0; s < kSlots; ++s) {
    const std::string_view tag = slot_tag(static_cast<uint16_t>(s));
    CAPTURE(s);
    REQUIRE(!tag.empty());
    REQUIRE(tag.find_first_of("{}") == std::string_view::npos);
    REQUIRE(key_slot("x{" + std::string(tag) + "}y") == s);
    REQUIRE(key_slot(cluster_heartbeat_key(static_cast<uint16_t>(s), 0x1234)) == s);
    longest = std::max(longest, tag.size());
  }
  CHECK(longest <= 4);
  CHECK(slot_tag(0) == slot_tag(0));  // the same table every time
  const std::string key = cluster_heartbeat_key(12182, 0xabc);
  CHECK(key.rfind(kReservedPrefix, 0) == 0);
  CHECK(key == "__tiercache:hb:{" + std::string(slot_tag(12182)) + "}0000000000000abc");
}

TEST_CASE("cluster source: one source per master, healthy once every master is") {
  Fixture f;
  f.source->start();
  CHECK(f.view.listener == f.source.get());
  CHECK(f.masters.empty());  // no topology yet
  CHECK_FALSE(f.source->healthy());
  CHECK(f.source->name() == "tracking");
  CHECK(f.source->tracks("app:1"));
  CHECK_FALSE(f.source->tracks("other"));

  f.view.change(three_masters());
  REQUIRE(f.masters.size() == 3);
  CHECK(f.source->masters() == 3);
  for (FakeMaster* m : f.masters) {
    CAPTURE(m->node.port);
    CHECK(m->starts == 1);
    CHECK(m->node.host == "127.0.0.1");
    CHECK(m->options.prefixes == std::vector<std::string>{"app:"});
    // The heartbeat key lands on the master itself.
    const int owner = f.view.now.master_of(key_slot(m->options.heartbeat_key));
    REQUIRE(owner >= 0);
    CHECK(f.view.now.masters()[owner].port == m->node.port);
    CHECK(m->options.heartbeat_key.rfind("__tiercache:hb:{", 0) == 0);
  }
  CHECK(f.events.flushes == 1);  // first discovery: nothing older may be trusted

  f.at(7000)->go_up();
  f.at(7001)->go_up();
  CHECK_FALSE(f.source->healthy());
  CHECK(f.events.healthy == 0);
  f.at(7002)->go_up();
  CHECK(f.source->healthy());
  CHECK(f.events.healthy == 1);

  // Heartbeats: each master's own key, on the data link (which routes by the key's slot).
  FakeL2Link link;
  f.source->heartbeat(link);
  CHECK(link.commands().size() == 3);
  f.source->reconnect("test");
  for (FakeMaster* m : f.masters) CHECK(m->reconnects == 1);

  f.at(7000)->bus_stats.received = 3;
  f.source->stop();
  CHECK(f.view.listener == nullptr);
  CHECK(f.masters.empty());  // stopped (their last words ignored) and freed
  CHECK_FALSE(f.source->healthy());
  CHECK(f.events.unhealthy == 0);
  CHECK(f.source->stats().received == 3);

  // Started again: as the first time.
  f.source->start();
  CHECK(f.masters.size() == 3);
  CHECK(f.events.flushes == 2);
  CHECK_FALSE(f.source->healthy());
  f.all_up();
  CHECK(f.events.healthy == 2);
}

TEST_CASE("cluster source: one master lost makes the whole unhealthy; keys pass through") {
  Fixture f;
  f.view.change(three_masters());  // before start: taken from the view at start
  f.source->start();
  REQUIRE(f.masters.size() == 3);
  f.all_up();
  REQUIRE(f.events.healthy == 1);

  std::string_view ks[] = {"app:1", "app:2"};
  f.at(7001)->listener->on_keys_invalidated(ks);
  CHECK(f.events.keys == std::vector<std::string>{"app:1", "app:2"});

  f.at(7001)->go_down("heartbeat not seen back");
  CHECK_FALSE(f.source->healthy());
  CHECK(f.events.unhealthy == 1);
  CHECK(f.events.last_why.find("127.0.0.1:7001") != std::string::npos);
  CHECK(f.events.last_why.find("heartbeat not seen back") != std::string::npos);
  f.at(7001)->go_down("again");  // passed on each time: the sidecar flushes each time
  CHECK(f.events.unhealthy == 2);
  f.at(7001)->go_up();
  CHECK(f.source->healthy());
  CHECK(f.events.healthy == 2);
}

TEST_CASE("cluster source: the current mark is the minimum over the masters") {
  Fixture f;
  f.three_up();
  f.at(7000)->listener->on_bus_current(100);
  f.at(7001)->listener->on_bus_current(90);
  CHECK(f.events.current.empty());  // 7002 has vouched for nothing yet
  f.at(7002)->listener->on_bus_current(120);
  CHECK(f.events.current == std::vector<uint64_t>{90});
  f.at(7001)->listener->on_bus_current(130);
  CHECK(f.events.current == std::vector<uint64_t>{90, 100});
  f.at(7000)->listener->on_bus_current(140);
  CHECK(f.events.current == std::vector<uint64_t>{90, 100, 120});

  // A lagging master holds it back; one that was lost vouches again only once current again.
  f.at(7002)->go_down("lost");
  f.at(7000)->listener->on_bus_current(150);
  CHECK(f.events.current.size() == 3);
  f.at(7002)->go_up();
  f.at(7001)->listener->on_bus_current(160);
  CHECK(f.events.current.size() == 3);
  f.at(7002)->listener->on_bus_current(170);
  CHECK(f.events.current == std::vector<uint64_t>{90, 100, 120, 150});
}

TEST_CASE("cluster source: a failover replaces the master's source and flushes L1") {
  Fixture f;
  f.three_up();
  FakeMaster* a = f.at(7000);
  FakeMaster* c = f.at(7002);
  a->bus_stats.received = 5;
  f.at(7001)->bus_stats.received = 7;
  f.at(7001)->lag.record(100);
  const int flushes = f.events.flushes;

  // The same topology again (a periodic refresh): nothing changes.
  f.view.change(three_masters());
  CHECK(f.events.flushes == flushes);
  CHECK(f.masters.size() == 3);
  CHECK(f.source->healthy());

  // 7001's replica 7004 promoted: same slots, another node.
  f.view.change(topology({{0, 5460, 7000}, {5461, 10922, 7004}, {10923, 16383, 7002}}));
  CHECK(f.events.flushes == flushes + 1);
  REQUIRE(f.masters.size() == 3);
  CHECK(f.at(7001) == nullptr);  // stopped and dropped
  CHECK(f.at(7000) == a);        // kept as they were
  CHECK(f.at(7002) == c);
  FakeMaster* d = f.at(7004);
  REQUIRE(d != nullptr);
  CHECK(d->starts == 1);
  CHECK(f.view.now.master_of(key_slot(d->options.heartbeat_key)) == 1);
  CHECK_FALSE(f.source->healthy());  // until 7004's tracking is set up
  CHECK(f.events.unhealthy == 1);
  CHECK(f.source->stats().received == 12);  // the gone master's count stays
  CHECK(f.source->lag_us().count() == 1);
  d->go_up();
  CHECK(f.source->healthy());
  CHECK(f.events.healthy == 2);
}

TEST_CASE("cluster source: resharding flushes; a heartbeat slot that moves gives a new key") {
  Fixture f;
  f.three_up();
  FakeMaster* a = f.at(7000);
  FakeMaster* b = f.at(7001);
  const std::string b_key = b->options.heartbeat_key;
  const uint16_t a_slot = key_slot(a->options.heartbeat_key);
  CHECK(a_slot == 0);  // a master's first slot
  int flushes = f.events.flushes;

  // Slots 5461..5999 move from 7001 to 7000: 7001's heartbeat slot (5461) left it.
  f.view.change(topology({{0, 5999, 7000}, {6000, 10922, 7001}, {10923, 16383, 7002}}));
  CHECK(f.events.flushes == ++flushes);
  CHECK(f.at(7000) == a);  // its heartbeat slot is still its own
  FakeMaster* b2 = f.at(7001);
  REQUIRE(b2 != nullptr);
  CHECK(b2->options.heartbeat_key != b_key);
  CHECK(key_slot(b2->options.heartbeat_key) == 6000);
  CHECK(b2->starts == 1);
  CHECK_FALSE(f.source->healthy());
  b2->go_up();
  CHECK(f.source->healthy());

  // Slots 100..199 move from 7000 to 7002, the heartbeat slots stay: no source is remade.
  FakeMaster* c = f.at(7002);
  f.view.change(topology({{0, 99, 7000}, {100, 199, 7002}, {200, 5999, 7000},
                          {6000, 10922, 7001}, {10923, 16383, 7002}}));
  CHECK(f.events.flushes == ++flushes);
  CHECK(f.at(7000) == a);
  CHECK(f.at(7001) == b2);
  CHECK(f.at(7002) == c);
  CHECK(f.source->healthy());

  // A master leaves (its slots go to another): its source goes; all others healthy.
  f.view.change(topology({{0, 10922, 7000}, {10923, 16383, 7002}}));
  CHECK(f.events.flushes == ++flushes);
  CHECK(f.masters.size() == 2);
  CHECK(f.at(7001) == nullptr);
  CHECK(f.source->healthy());

  // No master at all (a failed discovery must not look healthy).
  f.view.change(Topology());
  CHECK(f.masters.empty());
  CHECK_FALSE(f.source->healthy());
  CHECK(f.events.last_why.find("unknown") != std::string::npos);
}

std::vector<uint16_t> range(int first, int last) {
  std::vector<uint16_t> out;
  for (int s = first; s <= last; ++s) out.push_back(static_cast<uint16_t>(s));
  return out;
}

TEST_CASE("cluster source per slot: one master lost drops and stops only its slots") {
  Fixture f(true);
  f.view.change(three_masters());
  f.source->start();
  CHECK(f.source->per_slot());
  REQUIRE(f.events.dropped.size() == 1);  // first discovery: every slot
  CHECK(f.events.dropped[0].size() == static_cast<size_t>(kSlots));
  CHECK_FALSE(f.source->healthy());  // no master's tracking is set up yet
  CHECK(f.events.healthy == 0);
  CHECK(f.source->slots_unhealthy() == static_cast<size_t>(kSlots));
  f.at(7000)->go_up();
  CHECK(f.source->healthy());  // L1 serves 7000's slots
  CHECK(f.events.healthy == 1);
  CHECK(f.source->slot_healthy(0));
  CHECK(f.source->slot_healthy(5460));
  CHECK_FALSE(f.source->slot_healthy(5461));
  f.at(7001)->go_up();
  f.at(7002)->go_up();
  CHECK(f.source->slots_unhealthy() == 0);
  CHECK(f.events.dropped.size() == 1);

  // 7001's tracking lost: its slots, and only those, dropped and no longer followed.
  f.at(7001)->go_down("heartbeat not seen back");
  REQUIRE(f.events.dropped.size() == 2);
  CHECK(f.events.dropped[1] == range(5461, 10922));
  CHECK(f.events.last_why.find("127.0.0.1:7001") != std::string::npos);
  CHECK(f.events.last_why.find("heartbeat not seen back") != std::string::npos);
  CHECK(f.events.unhealthy == 0);  // the whole stays healthy
  CHECK(f.source->healthy());
  CHECK(f.source->slot_healthy(5460));
  CHECK_FALSE(f.source->slot_healthy(5461));
  CHECK_FALSE(f.source->slot_healthy(10922));
  CHECK(f.source->slot_healthy(10923));
  CHECK(f.source->slots_unhealthy() == 10922 - 5461 + 1);
  CHECK(f.source->slot_healthy(key_slot("foo")));        // 12182: 7002's
  CHECK(f.source->slot_healthy(key_slot("bar")));         // 5061: 7000's
}

TEST_CASE("cluster source per slot: marks over the healthy masters; recovery") {
  Fixture f(true);
  f.three_up();
  f.at(7000)->listener->on_bus_current(100);
  f.at(7001)->listener->on_bus_current(90);
  f.at(7002)->listener->on_bus_current(120);
  CHECK(f.events.current == std::vector<uint64_t>{90});
  // 7001 lost: its slots hold nothing now, so the others' marks vouch for L1.
  f.at(7001)->go_down("lost");
  CHECK(f.events.vouched.back() == 90);  // its last mark: a fail-safe window starts there
  f.at(7000)->listener->on_bus_current(130);
  CHECK(f.events.current == std::vector<uint64_t>{90, 120});
  f.at(7002)->listener->on_bus_current(140);
  CHECK(f.events.current == std::vector<uint64_t>{90, 120, 130});
  // Back: its slots are dropped once more (what it may have missed), and again once it is
  // followed (what a listener in fail-safe kept as stale: it was lost while vouched for, at
  // 90); its first mark is awaited before the minimum moves on.
  const size_t drops = f.events.dropped.size();
  f.at(7001)->listener->on_bus_unhealthy("tracking (again)");
  f.at(7001)->go_up();
  CHECK(f.events.dropped.size() == drops + 2);
  CHECK(f.events.dropped.back() == range(5461, 10922));
  CHECK(f.source->slots_unhealthy() == 0);
  f.at(7000)->listener->on_bus_current(150);
  f.at(7002)->listener->on_bus_current(160);
  CHECK(f.events.current.size() == 3);
  f.at(7001)->listener->on_bus_current(155);
  CHECK(f.events.current == std::vector<uint64_t>{90, 120, 130, 150});
  // Every master lost: no mark at all.
  for (FakeMaster* m : f.masters) m->go_down("all lost");
  for (FakeMaster* m : f.masters) m->listener->on_bus_current(500);
  CHECK(f.events.current.size() == 4);
  CHECK(f.source->slots_unhealthy() == static_cast<size_t>(kSlots));
  CHECK_FALSE(f.source->healthy());  // the last one lost: the whole, once
  CHECK(f.events.unhealthy == 1);
}

TEST_CASE("cluster source: a topology change drops only the slots that changed owner") {
  for (bool per_slot : {false, true}) {
    CAPTURE(per_slot);
    Fixture f(per_slot);
    f.three_up();
    const size_t drops = f.events.dropped.size();
    // Slots 100..199 move from 7000 to 7002.
    f.view.change(topology({{0, 99, 7000}, {100, 199, 7002}, {200, 5460, 7000},
                            {5461, 10922, 7001}, {10923, 16383, 7002}}));
    REQUIRE(f.events.dropped.size() == drops + 1);
    CHECK(f.events.dropped.back() == range(100, 199));
    CHECK(f.source->slot_healthy(150));  // 7002 follows them now
    // A failover (7001 -> 7004): 7001's slots dropped, unhealthy until 7004 tracks.
    f.view.change(topology({{0, 99, 7000}, {100, 199, 7002}, {200, 5460, 7000},
                            {5461, 10922, 7004}, {10923, 16383, 7002}}));
    CHECK(f.events.dropped.back() == range(5461, 10922));
    CHECK_FALSE(f.source->slot_healthy(6000));
    CHECK(f.source->slot_healthy(0));
    CHECK(f.source->healthy() == per_slot);  // all or nothing: 7004 not set up yet
    f.at(7004)->go_up();
    CHECK(f.source->slot_healthy(6000));
    CHECK(f.source->healthy());
  }
}

TEST_CASE("make_cluster_source: real tracking sources made, replaced and freed on a loop") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    FakeView view;
    Events ev;
    LinkOptions sub;
    sub.connect_timeout_ms = 50;
    TrackingOptions o;
    auto source = make_cluster_source(&loop, view, sub, o, 7, &ev);
    view.change(topology({{0, 8191, 1}, {8192, 16383, 2}}));  // ports nobody listens on
    source->start();
    CHECK(source->masters() == 2);
    const auto keys = source->heartbeat_keys();
    REQUIRE(keys.size() == 2);
    for (const auto& [node, key] : keys)
      CHECK(view.now.masters()[view.now.master_of(key_slot(key))].port == node.port);
    uv_run(&loop, UV_RUN_NOWAIT);
    view.change(topology({{0, 16383, 3}}));  // both dropped at once, a third made
    CHECK(source->masters() == 1);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_FALSE(source->healthy());
    source->stop();
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

}  // namespace
}  // namespace tiercache::sidecar
