// Unit tests of the read path on its own (sidecar/read_path.h), without a Sidecar: a ReadHost
// over the fake L2 link (fake_l2.h) and a real L1 segment, clients as socket-less connections.
// The fill guard refusing fills after a key's, a db's and everything's invalidation; single
// flight and a hit served from L1; a flight made unjoinable by an invalidation; the MGET split;
// EXISTS and STRLEN handing a miss back to the caller. Hash slots dropped (a cluster's master
// lost) and slots not followed (bypassed, never filled).
#include "sidecar/read_path.h"

#include <doctest/doctest.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "l1/store.h"
#include "shared/net/connection.h"
#include "sidecar/cluster/slot.h"
#include "sidecar/config.h"
#include "sidecar/invalidation/message.h"
#include "sidecar/stats.h"
#include "tests/sidecar/fake_l2.h"

namespace tiercache::sidecar {
namespace {

using testing::Reply;
using V = std::vector<std::string>;

std::atomic<int> g_segment{0};

// What the sidecar gives the read path, in-process: L1 (a real segment of its own), the fake
// link, the L1 use and source health the test sets, and the connections it opened.
class Host final : public ReadHost, public net::ConnectionOwner {
 public:
  explicit Host(bool hash_slots = false) {
    uv_loop_init(&loop_);
    l1::Options o;
    o.name = "ut-rp-" + std::to_string(getpid()) + "-" + std::to_string(g_segment++);
    o.memory_bytes = 4ull << 20;
    o.hash_slot_generations = hash_slots;
    std::string error;
    store_ = l1::Store::open(o, &error);
    REQUIRE_MESSAGE(store_, error);
    name_ = o.name;
  }
  ~Host() override {
    while (!conns_.empty()) conns_.begin()->second->close();
    store_.reset();
    l1::Store::unlink(name_);
    uv_loop_close(&loop_);
  }

  // ReadHost
  l1::Store& l1() override { return *store_; }
  L1Use l1_use() const override { return use; }
  bool l1_serving() const override { return use == L1Use::kServe; }
  bool tracks(std::string_view key) const override {
    return key.substr(0, prefix.size()) == prefix;
  }
  bool send(int db, std::span<const std::string_view> args,
            std::unique_ptr<Completion> done) override {
    dbs.push_back(db);
    return link.send(args, std::move(done));
  }
  net::Connection* connection(uint64_t id) override {
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : it->second;
  }
  void write_l2_error(std::string& out) override { out += "-ERR L2 down\r\n"; }
  bool key_followed(std::string_view key) const override {
    return !slots_down.contains(cluster::key_slot(key));
  }
  bool key_stale_ok(std::string_view key) const override {
    return slots_stale.contains(cluster::key_slot(key));
  }

  // net::ConnectionOwner: the test calls the read path itself.
  void on_request(net::Connection&, std::span<const std::string_view>) override {}
  void on_closed(net::Connection& c) override { conns_.erase(c.id()); }
  void on_protocol_error(net::Connection&) override {}
  void on_query_buffer_limit(net::Connection&) override {}

  net::Connection* client() {
    auto* c = new net::Connection(&loop_, this, &parser_limits_, &limits_, next_id_++,
                                  net::Connection::Kind::kInternal);
    conns_.emplace(c->id(), c);
    return c;
  }
  static std::string replies(net::Connection* c) {
    std::string out;
    out.swap(c->output());
    return out;
  }
  bool in_l1(int db, std::string_view key) {
    std::string v;
    return store_->get(static_cast<uint32_t>(db), key, &v, nullptr) == l1::GetResult::kHit;
  }

  L1Use use = L1Use::kServe;
  std::string prefix;  // tracks() only keys under it ("" = all)
  testing::FakeL2Link link;
  std::vector<int> dbs;  // the db of every request sent
  std::set<uint16_t> slots_down;  // key_followed() is false for their keys
  std::set<uint16_t> slots_stale;  // key_stale_ok() is true for their keys (fail-safe)

 private:
  uv_loop_t loop_;
  std::unique_ptr<l1::Store> store_;
  std::string name_;
  resp::ParserLimits parser_limits_;
  net::ConnectionLimits limits_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, net::Connection*> conns_;
};

struct Fixture {
  Host host;
  Config config;
  SidecarStats stats;
  ReadPath reads{host, config, stats};
};

TEST_CASE_FIXTURE(Fixture, "ReadPath: the fill guard refuses fills after a key's invalidation") {
  reads.fetch_started(0, "k");
  const uint64_t stamp = reads.guard_stamp();
  CHECK(reads.fill_allowed(0, "k", stamp));
  REQUIRE(host.l1().set(0, "k", "old", 0));
  reads.invalidate_key(0, "k");
  CHECK_FALSE(host.in_l1(0, "k"));
  CHECK_FALSE(reads.fill_allowed(0, "k", stamp));
  CHECK(reads.fill_allowed(1, "k", stamp));                // another db's k
  CHECK(reads.fill_allowed(0, "j", stamp));                // another key
  CHECK(reads.fill_allowed(0, "k", reads.guard_stamp()));  // a fetch begun after it
  reads.fetch_finished(0, "k");
  CHECK(stats.fills_untracked == 0);
}

TEST_CASE_FIXTURE(Fixture, "ReadPath: the fill guard refuses fills after a db's flush, and all") {
  REQUIRE(host.l1().set(0, "a", "1", 0));
  REQUIRE(host.l1().set(1, "b", "2", 0));
  uint64_t stamp = reads.guard_stamp();
  reads.invalidate_db(1);
  CHECK(host.in_l1(0, "a"));
  CHECK_FALSE(host.in_l1(1, "b"));
  CHECK_FALSE(reads.fill_allowed(1, "b", stamp));
  CHECK(reads.fill_allowed(0, "a", stamp));
  stamp = reads.guard_stamp();
  reads.invalidate_db(invalidation::kAllDbs);
  CHECK_FALSE(host.in_l1(0, "a"));
  CHECK_FALSE(reads.fill_allowed(0, "a", stamp));
  CHECK_FALSE(reads.fill_allowed(7, "x", stamp));
  CHECK(reads.fill_allowed(7, "x", reads.guard_stamp()));
  CHECK(stats.l1_flushes == 2);

  // Fail-safe's refusal: the same for fills in flight, but L1 keeps what it holds.
  REQUIRE(host.l1().set(0, "a", "1", 0));
  stamp = reads.guard_stamp();
  reads.refuse_fills_in_flight();
  CHECK(host.in_l1(0, "a"));
  CHECK_FALSE(reads.fill_allowed(0, "a", stamp));
  CHECK(stats.l1_flushes == 2);
}

TEST_CASE_FIXTURE(Fixture, "ReadPath: no fill while the source is down or for an untracked key") {
  const uint64_t stamp = reads.guard_stamp();
  host.prefix = "app:";
  CHECK_FALSE(reads.fill_allowed(0, "other", stamp));
  CHECK(stats.fills_untracked == 1);
  CHECK(reads.fill_allowed(0, "app:1", stamp));
  host.use = L1Use::kStale;  // fail-safe: L1 may answer, but nothing new goes in
  CHECK_FALSE(reads.fill_allowed(0, "app:1", stamp));
}

TEST_CASE_FIXTURE(Fixture, "ReadPath: one flight for every reader of a miss, then an L1 hit") {
  auto* a = host.client();
  auto* b = host.client();
  reads.get(*a, 3, "k");
  reads.get(*b, 3, "k");
  CHECK(host.link.commands() == V{"GET k", "PTTL k"});
  CHECK(host.dbs == std::vector<int>{3, 3});
  CHECK(reads.in_flight() == 1);
  CHECK(stats.coalesced_misses == 1);
  host.link.answer(Reply::str("v"));
  host.link.answer(Reply::integer(-1));
  CHECK(Host::replies(a) == "$1\r\nv\r\n");
  CHECK(Host::replies(b) == "$1\r\nv\r\n");
  CHECK(reads.in_flight() == 0);
  CHECK(stats.fills == 1);
  reads.get(*a, 3, "k");
  CHECK(Host::replies(a) == "$1\r\nv\r\n");
  CHECK(host.link.pending.empty());
  CHECK(stats.l1_hits == 1);
  reads.get(*a, 0, "k");  // another db's k: not the same entry
  CHECK(host.link.commands() == V{"GET k", "PTTL k"});
}

TEST_CASE_FIXTURE(Fixture, "ReadPath: an invalidation ends a flight's joinability and its fill") {
  auto* a = host.client();
  auto* b = host.client();
  reads.get(*a, 0, "k");
  reads.invalidate(std::vector<invalidation::Group>{invalidation::Group{0, false, {"k"}}});
  reads.get(*b, 0, "k");  // a fetch of its own
  CHECK(host.link.commands() == V{"GET k", "PTTL k", "GET k", "PTTL k"});
  CHECK(reads.in_flight() == 2);
  host.link.answer(Reply::str("old"));
  host.link.answer(Reply::integer(-1));
  CHECK(Host::replies(a) == "$3\r\nold\r\n");
  CHECK(stats.fills_discarded == 1);
  CHECK_FALSE(host.in_l1(0, "k"));
  host.link.answer(Reply::str("new"));
  host.link.answer(Reply::integer(-1));
  CHECK(Host::replies(b) == "$3\r\nnew\r\n");
  CHECK(host.in_l1(0, "k"));
}

TEST_CASE_FIXTURE(Fixture, "ReadPath: a flush of the flight's db ends its joinability and fill") {
  auto* a = host.client();
  auto* b = host.client();
  reads.get(*a, 2, "k");
  reads.invalidate_db(5);  // another db: the flight stays joinable
  reads.get(*b, 2, "k");
  CHECK(host.link.commands().size() == 2);
  reads.invalidate_db(2);
  reads.get(*b, 2, "k");
  CHECK(host.link.commands().size() == 4);
  host.link.answer(Reply::str("old"));
  host.link.answer(Reply::integer(-1));
  CHECK(stats.fills_discarded == 1);
}

struct SlotFixture {
  Host host{true};
  Config config;
  SidecarStats stats;
  ReadPath reads{host, config, stats};
};

TEST_CASE_FIXTURE(SlotFixture, "ReadPath: a dropped slot leaves L1, its flights and fills") {
  const uint16_t foo = cluster::key_slot("foo");
  REQUIRE(host.l1().set(0, "foo", "1", 0));
  REQUIRE(host.l1().set(0, "x{foo}", "2", 0));
  REQUIRE(host.l1().set(0, "bar", "3", 0));
  auto* a = host.client();
  auto* b = host.client();
  reads.get(*a, 0, "{foo}new");  // a fetch in flight in the slot
  reads.get(*a, 0, "{bar}new");  // and one in another
  const uint16_t dropped[] = {foo};
  reads.invalidate_slots(dropped);
  CHECK(stats.l1_slots_flushed == 1);
  CHECK_FALSE(host.in_l1(0, "foo"));
  CHECK_FALSE(host.in_l1(0, "x{foo}"));
  CHECK(host.in_l1(0, "bar"));
  reads.get(*b, 0, "{foo}new");  // not joined: a fetch of its own
  reads.get(*b, 0, "{bar}new");  // joined
  CHECK(host.link.commands() ==
        V{"GET {foo}new", "PTTL {foo}new", "GET {bar}new", "PTTL {bar}new", "GET {foo}new",
          "PTTL {foo}new"});
  for (int i = 0; i < 3; ++i) {
    host.link.answer(Reply::str("v"));
    host.link.answer(Reply::integer(-1));
  }
  CHECK(stats.fills_discarded == 1);  // begun before the drop
  CHECK(host.in_l1(0, "{foo}new"));  // begun after it
  CHECK(host.in_l1(0, "{bar}new"));
  Host::replies(a);
  Host::replies(b);

  // The slot not followed (its master's tracking down): L1 neither answers nor fills its keys.
  host.slots_down.insert(foo);
  reads.get(*a, 0, "{foo}new");
  CHECK(stats.l1_bypassed == 1);
  CHECK(host.link.commands() == V{"GET {foo}new", "PTTL {foo}new"});
  host.link.answer(Reply::str("w"));
  host.link.answer(Reply::integer(-1));
  CHECK(Host::replies(a) == "$1\r\nw\r\n");
  CHECK(stats.fills_discarded == 2);
  reads.get(*a, 0, "bar");  // other slots are served
  CHECK(Host::replies(a) == "$1\r\n3\r\n");
  CHECK(host.link.pending.empty());

  // Fail-safe for that slot only: what L1 holds is answered, counted as stale; a miss goes to
  // the L2 and is not filled.
  REQUIRE(host.l1().set(0, "y{foo}", "4", 0));
  host.slots_stale.insert(foo);
  reads.get(*a, 0, "y{foo}");
  CHECK(Host::replies(a) == "$1\r\n4\r\n");
  CHECK(stats.stale_answers == 1);
  CHECK(stats.l1_bypassed == 1);
  reads.get(*a, 0, "z{foo}");
  host.link.answer(Reply::str("z"));
  host.link.answer(Reply::integer(-1));
  CHECK(Host::replies(a) == "$1\r\nz\r\n");
  CHECK_FALSE(host.in_l1(0, "z{foo}"));
  reads.get(*a, 0, "bar");  // the others: fresh, not stale
  CHECK(Host::replies(a) == "$1\r\n3\r\n");
  CHECK(stats.stale_answers == 1);
  host.use = L1Use::kOff;  // L1 off altogether: nothing, stale slots included
  reads.get(*a, 0, "y{foo}");
  CHECK(host.link.commands() == V{"GET y{foo}", "PTTL y{foo}"});
}

TEST_CASE_FIXTURE(Fixture, "ReadPath: slots dropped from an L1 without slot generations: all") {
  REQUIRE(host.l1().set(0, "foo", "1", 0));
  REQUIRE(host.l1().set(0, "bar", "3", 0));
  const uint16_t dropped[] = {cluster::key_slot("foo")};
  reads.invalidate_slots(dropped);
  CHECK_FALSE(host.in_l1(0, "foo"));
  CHECK_FALSE(host.in_l1(0, "bar"));
  CHECK(stats.l1_flushes == 1);
}

TEST_CASE_FIXTURE(Fixture, "ReadPath: MGET asks the L2 for its misses only") {
  auto* a = host.client();
  REQUIRE(host.l1().set(0, "a", "1", 0));
  REQUIRE(host.l1().set_absent(0, "n", 0));
  reads.mget(*a, 0, std::vector<std::string_view>{"MGET", "a", "b", "n"});
  CHECK(host.link.commands() == V{"MGET b", "PTTL b"});
  std::vector<std::unique_ptr<Reply>> values;
  values.push_back(Reply::str("2"));
  host.link.answer(Reply::array(std::move(values)));
  host.link.answer(Reply::integer(-1));
  CHECK(Host::replies(a) == "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n");
  CHECK(host.in_l1(0, "b"));
  reads.mget(*a, 0, std::vector<std::string_view>{"MGET", "a", "b"});  // all hits: at once
  CHECK(Host::replies(a) == "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
  CHECK(host.link.pending.empty());
}

TEST_CASE_FIXTURE(Fixture, "ReadPath: EXISTS and STRLEN hand what L1 cannot answer back") {
  auto* a = host.client();
  REQUIRE(host.l1().set(0, "a", "abc", 0));
  CHECK(reads.strlen(*a, 0, std::vector<std::string_view>{"STRLEN", "a"}));
  CHECK(Host::replies(a) == ":3\r\n");
  CHECK_FALSE(reads.strlen(*a, 0, std::vector<std::string_view>{"STRLEN", "b"}));
  CHECK(Host::replies(a).empty());
  CHECK(reads.exists(*a, 0, std::vector<std::string_view>{"EXISTS", "a", "a"}));
  CHECK(Host::replies(a) == ":2\r\n");
  // A miss with negative entries on: one EXISTS per unknown key, a 0 cached as absent.
  CHECK(reads.exists(*a, 0, std::vector<std::string_view>{"EXISTS", "a", "b"}));
  CHECK(host.link.commands() == V{"EXISTS b"});
  host.link.answer(Reply::integer(0));
  CHECK(Host::replies(a) == ":1\r\n");
  std::string v;
  CHECK(host.l1().get(0, "b", &v, nullptr) == l1::GetResult::kAbsent);
  // L1 off (the source down, no fail-safe): nothing is asked of L1, the caller relays it.
  host.use = L1Use::kOff;
  CHECK_FALSE(reads.exists(*a, 0, std::vector<std::string_view>{"EXISTS", "a"}));
  CHECK(Host::replies(a).empty());
  CHECK(stats.l1_bypassed == 1);
}

}  // namespace
}  // namespace tiercache::sidecar
