// ClusterLink (l2-mode cluster's data link) over one fake link per node: discovery, routing by
// slot, request order across masters, MOVED/ASK, split and merged multi-key commands,
// CROSSSLOT, the per-slot transaction, the SCAN cursor walk and the fan-out of FLUSHDB/DBSIZE.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sidecar/cluster/cluster_link.h"
#include "sidecar/cluster/slot.h"
#include "tests/sidecar/fake_l2.h"

namespace tiercache::sidecar {
namespace {

using cluster::ClusterLink;
using testing::FakeL2Link;
using testing::Reply;

// Three masters: 7000 serves 0-5460, 7001 5461-10922, 7002 10923-16383.
constexpr int kFirst[] = {0, 5461, 10923};
constexpr int kLast[] = {5460, 10922, 16383};

// without: a master whose range the reply leaves out (-1: none).
std::unique_ptr<Reply> slots_reply(int without = -1) {
  std::vector<std::unique_ptr<Reply>> ranges;
  for (int m = 0; m < 3; ++m) {
    if (m == without) continue;
    std::vector<std::unique_ptr<Reply>> node;
    node.push_back(Reply::str("127.0.0.1"));
    node.push_back(Reply::integer(7000 + m));
    node.push_back(Reply::str(std::string(40, static_cast<char>('a' + m))));
    std::vector<std::unique_ptr<Reply>> range;
    range.push_back(Reply::integer(kFirst[m]));
    range.push_back(Reply::integer(kLast[m]));
    range.push_back(Reply::array(std::move(node)));
    ranges.push_back(Reply::array(std::move(range)));
  }
  return Reply::array(std::move(ranges));
}

// The n-th key ("k<i>") whose slot the master m serves.
std::string key_on(int m, int n = 0) {
  for (int i = 0;; ++i) {
    std::string k = "k" + std::to_string(i);
    int s = cluster::key_slot(k);
    if (s >= kFirst[m] && s <= kLast[m] && n-- == 0) return k;
  }
}

struct Recorder final : Completion {
  explicit Recorder(std::vector<std::string>* out) : out(out) {}
  void on_reply(const redisReply* r) override {
    std::string s = "(failed)";
    if (r != nullptr) {
      s.clear();
      write_reply(s, r);
    }
    out->push_back(s);
  }
  std::vector<std::string>* out;
};

struct Fixture {
  command::CommandTable table;
  std::map<int, FakeL2Link*> nodes;  // by port
  std::string refused;
  std::vector<std::string> got;  // replies, in the order the link delivered them
  std::unique_ptr<ClusterLink> link;

  explicit Fixture(std::vector<int> seeds = {7000}) {
    cluster::ClusterLinkOptions o;
    for (int p : seeds) o.seeds.push_back(Endpoint{false, "127.0.0.1", p});
    o.make_link = [this](const Endpoint& e) {
      auto l = std::make_unique<FakeL2Link>();
      nodes[e.port] = l.get();
      return std::unique_ptr<L2Link>(std::move(l));
    };
    o.on_refused = [this](const std::string& why) { refused = why; };
    link = std::make_unique<ClusterLink>(table, std::move(o));
  }
  FakeL2Link& n(int m) { return *nodes.at(7000 + m); }
  void discover() {
    link->start();
    REQUIRE(n(0).commands() == std::vector<std::string>{"CLUSTER SLOTS"});
    n(0).answer(slots_reply());
    REQUIRE(link->connected());
  }
  void send(std::vector<std::string_view> args) {
    link->send(args, std::make_unique<Recorder>(&got));
  }
};

TEST_CASE("cluster link: discovery, then each key to its slot's master") {
  Fixture f;
  CHECK_FALSE(f.link->connected());
  f.discover();
  CHECK(f.link->topology().masters().size() == 3);
  for (int m = 0; m < 3; ++m) {
    std::string k = key_on(m);
    f.send({"GET", k});
    CHECK(f.n(m).commands() == std::vector<std::string>{"GET " + k});
    f.n(m).answer(Reply::str("v" + std::to_string(m)));
  }
  CHECK(f.got == std::vector<std::string>{"$2\r\nv0\r\n", "$2\r\nv1\r\n", "$2\r\nv2\r\n"});
  // A formatted request (the write path's) is parsed back and routed too.
  std::string wire;
  const std::string k2 = key_on(2);
  std::string_view set[] = {"SET", k2, "x"};
  format_command(wire, set);
  f.link->send_formatted(wire, nullptr);
  CHECK(f.n(2).commands() == std::vector<std::string>{"SET " + key_on(2) + " x"});
}

TEST_CASE("cluster link: replies in request order across masters") {
  Fixture f;
  f.discover();
  f.send({"GET", key_on(0)});
  f.send({"GET", key_on(1)});
  f.send({"GET", key_on(2)});
  f.n(2).answer(Reply::str("c"));
  f.n(1).answer(Reply::str("b"));
  CHECK(f.got.empty());  // held behind the first request
  f.n(0).answer(Reply::str("a"));
  CHECK(f.got == std::vector<std::string>{"$1\r\na\r\n", "$1\r\nb\r\n", "$1\r\nc\r\n"});
}

TEST_CASE("cluster link: MOVED re-sends to the named node and refreshes; ASK sends ASKING") {
  Fixture f;
  f.discover();
  std::string k = key_on(0);
  int slot = cluster::key_slot(k);
  f.send({"GET", k});
  f.n(0).answer(Reply::error("MOVED " + std::to_string(slot) + " 127.0.0.1:7001"));
  CHECK(f.n(1).commands().back() == "GET " + k);
  // The refresh went to a connected master.
  bool refreshed = false;
  for (int m = 0; m < 3; ++m)
    for (const std::string& c : f.n(m).commands()) refreshed |= c == "CLUSTER SLOTS";
  CHECK(refreshed);
  f.n(1).answer(Reply::str("moved"));
  CHECK(f.got == std::vector<std::string>{"$5\r\nmoved\r\n"});

  f.got.clear();
  std::string k2 = key_on(2);
  f.send({"GET", k2});
  f.n(2).answer(Reply::error("ASK " + std::to_string(cluster::key_slot(k2)) + " 127.0.0.1:7003"));
  REQUIRE(f.nodes.count(7003) == 1);  // a node not in the topology gets a link
  CHECK(f.nodes[7003]->commands() == std::vector<std::string>{"ASKING", "GET " + k2});
  f.nodes[7003]->answer(Reply::status("OK"));  // ASKING
  f.nodes[7003]->answer(Reply::str("asked"));
  CHECK(f.got == std::vector<std::string>{"$5\r\nasked\r\n"});
}

TEST_CASE("cluster link: a read answered TRYAGAIN is sent again at the next tick; a write not") {
  Fixture f;
  f.discover();
  const std::string a = "{t}a", b = "{t}b";  // one slot, 7000's or not: wherever it is
  const int m = cluster::key_slot(a) <= kLast[0] ? 0 : cluster::key_slot(a) <= kLast[1] ? 1 : 2;
  const std::string tryagain = "TRYAGAIN Multiple keys request during rehashing of slot";
  f.send({"MGET", a, b});
  f.send({"GET", "x" + a});  // a later request waits behind it, in order
  CHECK(f.n(m).commands() == std::vector<std::string>{"MGET " + a + " " + b, "GET x" + a});
  f.n(m).answer(Reply::error(tryagain));
  f.n(m).answer(Reply::str("later"));
  CHECK(f.got.empty());
  f.link->tick(1);
  CHECK(f.n(m).commands() == std::vector<std::string>{"MGET " + a + " " + b});
  f.n(m).answer(Reply::array([] {
    std::vector<std::unique_ptr<Reply>> v;
    v.push_back(Reply::str("1"));
    v.push_back(Reply::nil());
    return v;
  }()));
  CHECK(f.got == std::vector<std::string>{"*2\r\n$1\r\n1\r\n$-1\r\n", "$5\r\nlater\r\n"});

  f.got.clear();
  f.send({"DEL", a, b});
  f.n(m).answer(Reply::error(tryagain));
  CHECK(f.got == std::vector<std::string>{"-" + tryagain + "\r\n"});
  f.link->tick(2);
  CHECK(f.n(m).commands().empty());

  // Bounded: the kMaxTryAgain-th retry's TRYAGAIN is the answer.
  f.got.clear();
  f.send({"MGET", a, b});
  for (int i = 0; i <= cluster::kMaxTryAgain; ++i) {
    REQUIRE(f.n(m).commands() == std::vector<std::string>{"MGET " + a + " " + b});
    f.n(m).answer(Reply::error(tryagain));
    f.link->tick(3 + static_cast<uint64_t>(i));
  }
  CHECK(f.got == std::vector<std::string>{"-" + tryagain + "\r\n"});
}

TEST_CASE("cluster link: redirections are bounded") {
  Fixture f;
  f.discover();
  std::string k = key_on(0);
  std::string moved = "MOVED " + std::to_string(cluster::key_slot(k)) + " 127.0.0.1:7000";
  f.send({"GET", k});
  for (int i = 0; i < 6; ++i) {
    while (f.n(0).commands().front() != "GET " + k) f.n(0).answer(Reply::nil());  // refreshes
    f.n(0).answer(Reply::error(moved));
  }
  CHECK(f.got == std::vector<std::string>{"-" + moved + "\r\n"});
}

TEST_CASE("cluster link: MGET, DEL and EXISTS across slots are split and merged") {
  Fixture f;
  f.discover();
  std::string a = key_on(0), b = key_on(1), a2 = key_on(0, 1);  // three slots
  REQUIRE(cluster::key_slot(a) != cluster::key_slot(a2));
  f.send({"MGET", a, b, a2});
  // One request per slot (a node serves a multi-key command in one slot only).
  CHECK(f.n(0).commands() == std::vector<std::string>{"MGET " + a, "MGET " + a2});
  CHECK(f.n(1).commands() == std::vector<std::string>{"MGET " + b});
  f.n(1).answer(Reply::array([] {
    std::vector<std::unique_ptr<Reply>> v;
    v.push_back(Reply::str("B"));
    return v;
  }()));
  f.n(0).answer(Reply::array([] {
    std::vector<std::unique_ptr<Reply>> v;
    v.push_back(Reply::str("A"));
    return v;
  }()));
  f.n(0).answer(Reply::array([] {
    std::vector<std::unique_ptr<Reply>> v;
    v.push_back(Reply::nil());
    return v;
  }()));
  CHECK(f.got == std::vector<std::string>{"*3\r\n$1\r\nA\r\n$1\r\nB\r\n$-1\r\n"});

  f.got.clear();
  f.send({"DEL", a, b});
  f.send({"EXISTS", a, b, a2});
  f.n(1).answer(Reply::integer(1));  // DEL b
  f.n(1).answer(Reply::integer(0));  // EXISTS b
  f.n(0).answer(Reply::integer(1));  // DEL a
  f.n(0).answer(Reply::integer(1));  // EXISTS a
  f.n(0).answer(Reply::integer(1));  // EXISTS a2
  CHECK(f.got == std::vector<std::string>{":2\r\n", ":2\r\n"});
}

TEST_CASE("cluster link: other multi-key commands across slots answer CROSSSLOT") {
  Fixture f;
  f.discover();
  const std::string cross = "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
  f.send({"MSET", key_on(0), "1", key_on(1), "2"});
  f.send({"RENAME", key_on(1), key_on(2)});
  f.send({"MSET", "{t}a", "1", "{t}b", "2"});  // one slot (a hash tag): passed on
  CHECK(f.got == std::vector<std::string>{cross, cross});
  const int t = cluster::key_slot("t") <= 5460 ? 0 : cluster::key_slot("t") <= 10922 ? 1 : 2;
  for (int m = 0; m < 3; ++m)
    CHECK(f.n(m).commands() == (m == t ? std::vector<std::string>{"MSET {t}a 1 {t}b 2"}
                                       : std::vector<std::string>{}));
  f.n(t).answer(Reply::status("OK"));
  CHECK(f.got.size() == 3);
}

namespace {
std::unique_ptr<Reply> ok_array() {
  std::vector<std::unique_ptr<Reply>> v;
  v.push_back(Reply::status("OK"));
  return Reply::array(std::move(v));
}

// A client's MULTI, SET a 1, SET b 2, the `extra` command if any, EXEC.
void send_two_sets(Fixture& f, const std::string& a, const std::string& b,
                   std::vector<std::string_view> extra = {}) {
  f.send({"MULTI"});
  f.send({"SET", a, "1"});
  f.send({"SET", b, "2"});
  if (!extra.empty()) f.send(extra);
  f.send({"EXEC"});
}

// A node's answers to MULTI, one queued command and its EXEC that committed it.
void answer_committed(FakeL2Link& node) {
  node.answer(Reply::status("OK"));
  node.answer(Reply::status("QUEUED"));
  node.answer(ok_array());
}
}  // namespace

TEST_CASE("cluster link: MULTI/EXEC across slots becomes one transaction per slot") {
  Fixture f;
  f.discover();
  std::string a = key_on(0), b = key_on(1);
  send_two_sets(f, a, b, {"PUBLISH", "ch", "m"});
  CHECK(f.n(0).commands() ==
        std::vector<std::string>{"MULTI", "SET " + a + " 1", "PUBLISH ch m", "EXEC"});
  CHECK(f.n(1).commands() == std::vector<std::string>{"MULTI", "SET " + b + " 2", "EXEC"});
  answer_committed(f.n(1));
  for (int i = 0; i < 3; ++i)
    f.n(0).answer(i == 0 ? Reply::status("OK") : Reply::status("QUEUED"));
  f.n(0).answer(Reply::error("EXECABORT Transaction discarded because of previous errors."));
  CHECK(f.got == std::vector<std::string>{
                     "+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "+QUEUED\r\n",
                     "*3\r\n-EXECABORT Transaction discarded because of previous errors.\r\n"
                     "+OK\r\n-EXECABORT Transaction discarded because of previous errors.\r\n"});
}

TEST_CASE("cluster link: a DEL over slots inside MULTI is split and its counts summed") {
  Fixture f;
  f.discover();
  std::string a = key_on(0), b = key_on(1);
  f.send({"MULTI"});
  f.send({"DEL", a, b});
  f.send({"EXEC"});
  CHECK(f.n(0).commands() == std::vector<std::string>{"MULTI", "DEL " + a, "EXEC"});
  CHECK(f.n(1).commands() == std::vector<std::string>{"MULTI", "DEL " + b, "EXEC"});
  for (int m = 0; m < 2; ++m) {
    f.n(m).answer(Reply::status("OK"));
    f.n(m).answer(Reply::status("QUEUED"));
    f.n(m).answer(Reply::array([] {
      std::vector<std::unique_ptr<Reply>> v;
      v.push_back(Reply::integer(1));
      return v;
    }()));
  }
  CHECK(f.got == std::vector<std::string>{"+OK\r\n", "+QUEUED\r\n", "*1\r\n:2\r\n"});
}

namespace {
const std::string kAbort = "EXECABORT Transaction discarded because of previous errors.";
}  // namespace

TEST_CASE("cluster link: a slot's transaction turned away by a resharding is sent again whole") {
  Fixture f;
  f.discover();
  const std::string a = key_on(0);
  const std::string slot = std::to_string(cluster::key_slot(a));
  auto commit = [&] {
    f.got.clear();
    f.send({"MULTI"});
    f.send({"SET", a, "1"});
    f.send({"EXEC"});
  };
  const std::vector<std::string> txn = {"MULTI", "SET " + a + " 1", "EXEC"};
  const std::vector<std::string> committed = {"+OK\r\n", "+QUEUED\r\n", "*1\r\n+OK\r\n"};
  // Answers the topology checks waiting at the front of a node (the same topology): how many.
  auto refreshes = [&] {
    int n = 0;
    for (int m = 0; m < 3; ++m)
      while (!f.n(m).commands().empty() && f.n(m).commands().front() == "CLUSTER SLOTS") {
        f.n(m).answer(slots_reply());
        ++n;
      }
    return n;
  };

  SUBCASE("MOVED on a queued command: to the named node, and the topology asked again") {
    commit();
    f.n(0).answer(Reply::status("OK"));
    f.n(0).answer(Reply::error("MOVED " + slot + " 127.0.0.1:7001"));
    CHECK(f.got == std::vector<std::string>{"+OK\r\n"});  // the queued reply is held
    f.n(0).answer(Reply::error(kAbort));
    CHECK(refreshes() == 1);
    CHECK(f.n(1).commands() == txn);
    answer_committed(f.n(1));
    CHECK(f.got == committed);
  }
  SUBCASE("ASK: ASKING, then the whole transaction at the importing node") {
    commit();
    f.n(0).answer(Reply::status("OK"));
    f.n(0).answer(Reply::error("ASK " + slot + " 127.0.0.1:7002"));
    f.n(0).answer(Reply::error(kAbort));
    CHECK(f.n(2).commands() ==
          std::vector<std::string>{"ASKING", "MULTI", "SET " + a + " 1", "EXEC"});
    f.n(2).answer(Reply::status("OK"));
    answer_committed(f.n(2));
    CHECK(f.got == committed);
  }
  SUBCASE("MOVED answered by EXEC itself (the slot left at EXEC time)") {
    commit();
    f.n(0).answer(Reply::status("OK"));
    f.n(0).answer(Reply::status("QUEUED"));
    f.n(0).answer(Reply::error("MOVED " + slot + " 127.0.0.1:7001"));
    CHECK(refreshes() == 1);
    CHECK(f.n(1).commands() == txn);
  }
  SUBCASE("TRYAGAIN: the same transaction again at the next tick, not before") {
    commit();
    f.n(0).answer(Reply::status("OK"));
    f.n(0).answer(Reply::status("QUEUED"));
    f.n(0).answer(Reply::error("TRYAGAIN Multiple keys request during rehashing of slot"));
    CHECK(f.n(0).commands().empty());
    CHECK(f.got == std::vector<std::string>{"+OK\r\n"});
    f.link->tick(1);
    CHECK(f.n(0).commands() == txn);
    answer_committed(f.n(0));
    CHECK(f.got == committed);
  }
  SUBCASE("any other error is the caller's answer: nothing sent again") {
    commit();
    f.n(0).answer(Reply::status("OK"));
    f.n(0).answer(Reply::error("ERR wrong number of arguments for 'set' command"));
    f.n(0).answer(Reply::error(kAbort));
    CHECK(f.n(1).commands().empty());
    CHECK(f.n(0).commands().empty());
    CHECK(f.got == std::vector<std::string>{
                       "+OK\r\n", "-ERR wrong number of arguments for 'set' command\r\n",
                       "*1\r\n-" + kAbort + "\r\n"});
  }
  SUBCASE("redirections are bounded: the sixth MOVED is the answer") {
    commit();
    for (int i = 0; i <= cluster::kMaxRedirects; ++i) {
      FakeL2Link& at = f.n(i % 2);  // 7000, 7001, 7000, ...
      refreshes();
      REQUIRE(at.commands() == txn);
      at.answer(Reply::status("OK"));
      at.answer(Reply::error("MOVED " + slot + " 127.0.0.1:" + std::to_string(7001 - i % 2)));
      at.answer(Reply::error(kAbort));
    }
    CHECK(f.got.size() == 3);
    CHECK(f.got[2] == "*1\r\n-" + kAbort + "\r\n");
  }
  SUBCASE("the node lost mid-transaction: its part fails with the reason, nothing sent again") {
    commit();
    f.n(0).fail_all();
    REQUIRE(f.got.size() == 3);
    CHECK(f.got[1] == "(failed)");  // the queued command: no QUEUED came
    CHECK(f.got[2].starts_with("*1\r\n-ERR tiercache: L2 unavailable (127.0.0.1:7000: "));
    CHECK(f.n(0).commands().empty());
  }
}

TEST_CASE("cluster link: one master lost fails only its slot's part of a transaction") {
  // The sidecar's write batch: several clients' writes in one MULTI/EXEC, split per slot. A
  // dead master's group must not fail the groups the live masters committed (their writes
  // were applied: an error would tell their clients otherwise).
  Fixture f;
  f.discover();
  send_two_sets(f, key_on(0), key_on(1));
  answer_committed(f.n(1));
  f.n(0).fail_all();
  REQUIRE(f.got.size() == 4);
  CHECK(f.got[0] == "+OK\r\n");
  CHECK(f.got[1] == "(failed)");
  CHECK(f.got[2] == "+QUEUED\r\n");
  CHECK(f.got[3].starts_with("*2\r\n-ERR tiercache: L2 unavailable (127.0.0.1:7000: "));
  CHECK(f.got[3].ends_with("\r\n+OK\r\n"));
}

TEST_CASE("cluster link: slots a reply leaves out fail alone, and are asked for at every tick") {
  // CI once saw a sidecar take, mid-failover, a CLUSTER SLOTS reply without the failed
  // master's range: every write failed (connected() was false) until the next periodic
  // refresh, 5 s later. Only that range's requests may fail, and only until the next tick.
  Fixture f;
  f.discover();
  const uint64_t t0 = cluster::ClusterLinkOptions{}.refresh_ms;
  f.link->tick(t0);  // the periodic refresh
  REQUIRE(f.n(0).commands() == std::vector<std::string>{"CLUSTER SLOTS"});
  f.n(0).answer(slots_reply(1));
  CHECK(f.link->connected());
  f.send({"GET", key_on(1)});
  f.send({"GET", key_on(2)});
  CHECK(f.n(2).commands() == std::vector<std::string>{"GET " + key_on(2)});
  f.n(2).answer(Reply::str("v"));
  CHECK(f.got == std::vector<std::string>{"(failed)", "$1\r\nv\r\n"});
  CHECK(f.link->last_error() == "no master serves the slot");
  send_two_sets(f, key_on(0), key_on(1));  // a write batch: 7000's group commits
  answer_committed(f.n(0));
  REQUIRE(f.got.size() == 6);
  CHECK(f.got[5].starts_with("*2\r\n+OK\r\n-ERR tiercache: L2 unavailable (no master"));
  f.link->tick(t0 + 1);  // the next tick asks again
  REQUIRE(f.n(0).commands() == std::vector<std::string>{"CLUSTER SLOTS"});
  f.n(0).answer(slots_reply());
  f.got.clear();
  f.send({"GET", key_on(1)});
  CHECK(f.n(1).commands() == std::vector<std::string>{"GET " + key_on(1)});
  f.link->tick(t0 + 2);  // covered again: no more asking
  CHECK(f.n(0).commands().empty());
}

TEST_CASE("cluster link: slots left unserved for long are asked for every refresh_ms") {
  // A cluster that serves part of its slots on purpose (cluster-require-full-coverage no):
  // every tick for refresh_ms after the range went, then at the periodic refresh only.
  Fixture f;
  f.discover();
  const uint64_t every = cluster::ClusterLinkOptions{}.refresh_ms;
  f.link->tick(every);
  f.n(0).answer(slots_reply(1));  // the range goes at `every`
  for (uint64_t now : {every + 1, 2 * every - 1, 2 * every}) {
    f.link->tick(now);
    REQUIRE(f.n(0).commands() == std::vector<std::string>{"CLUSTER SLOTS"});
    f.n(0).answer(slots_reply(1));
  }
  f.link->tick(2 * every + 1);  // refresh_ms of it: back to the periodic refresh
  CHECK(f.n(0).commands().empty());
  f.link->tick(3 * every - 1);
  CHECK(f.n(0).commands().empty());
  f.link->tick(3 * every);
  REQUIRE(f.n(0).commands() == std::vector<std::string>{"CLUSTER SLOTS"});
  f.n(0).answer(slots_reply());
  f.link->tick(3 * every + 1);
  CHECK(f.n(0).commands().empty());
}

TEST_CASE("cluster link: SCAN walks the masters with the index in the cursor") {
  Fixture f;
  f.discover();
  auto page = [](std::string cursor, std::string key) {
    std::vector<std::unique_ptr<Reply>> keys, v;
    keys.push_back(Reply::str(std::move(key)));
    v.push_back(Reply::str(std::move(cursor)));
    v.push_back(Reply::array(std::move(keys)));
    return Reply::array(std::move(v));
  };
  const std::string second = std::to_string(uint64_t{1} << 54);
  const std::string second_5 = std::to_string((uint64_t{1} << 54) | 5);
  const std::string third = std::to_string(uint64_t{2} << 54);
  f.send({"SCAN", "0", "MATCH", "*"});
  CHECK(f.n(0).commands() == std::vector<std::string>{"SCAN 0 MATCH *"});
  f.n(0).answer(page("0", "x"));
  f.send({"SCAN", second});
  CHECK(f.n(1).commands() == std::vector<std::string>{"SCAN 0"});
  f.n(1).answer(page("5", "y"));
  f.send({"SCAN", second_5});
  CHECK(f.n(1).commands() == std::vector<std::string>{"SCAN 5"});
  f.n(1).answer(page("0", "z"));
  f.send({"SCAN", third});
  f.n(2).answer(page("0", "w"));
  auto want = [](const std::string& c, const std::string& k) {
    return "*2\r\n$" + std::to_string(c.size()) + "\r\n" + c + "\r\n*1\r\n$1\r\n" + k + "\r\n";
  };
  CHECK(f.got == std::vector<std::string>{want(second, "x"), want(second_5, "y"),
                                          want(third, "z"), want("0", "w")});
}

TEST_CASE("cluster link: FLUSHDB, DBSIZE and KEYS go to every master") {
  Fixture f;
  f.discover();
  f.send({"FLUSHDB"});
  f.send({"DBSIZE"});
  for (int m = 0; m < 3; ++m) {
    CHECK(f.n(m).commands() == std::vector<std::string>{"FLUSHDB", "DBSIZE"});
    f.n(m).answer(Reply::status("OK"));
    f.n(m).answer(Reply::integer(m + 1));
  }
  CHECK(f.got == std::vector<std::string>{"+OK\r\n", ":6\r\n"});
}

TEST_CASE("cluster link: a seed without cluster support refuses start-up") {
  Fixture f({7000, 7001});
  f.link->start();
  f.n(0).answer(Reply::error("ERR This instance has cluster support disabled"));
  CHECK(f.refused.empty());  // the next seed is asked
  f.link->tick(100000);
  f.n(1).answer(Reply::error("ERR unknown command 'CLUSTER'"));
  CHECK(f.refused.find("cluster-enabled") != std::string::npos);
  CHECK_FALSE(f.link->connected());
  // Requests fail (not hang) while no topology is known.
  f.send({"GET", "k"});
  CHECK(f.got == std::vector<std::string>{"(failed)"});
}

}  // namespace
}  // namespace tiercache::sidecar
