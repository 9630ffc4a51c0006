// Unit tests of l2/tracking/tracker: the key and prefix tables and the messages, over a fake
// set of peers (no server, no sockets).
#include "l2/tracking/tracker.h"

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

using tiercache::l2::ModifiedBy;
using namespace tiercache::l2::tracking;

namespace {

// Clients by id; those in pub/sub mode collect the payloads they are sent.
class FakePeers : public Peers {
 public:
  std::set<uint64_t> connected;
  std::set<uint64_t> subscribed;
  std::map<uint64_t, std::vector<std::string>> got;

  bool exists(uint64_t id) const override { return connected.count(id) != 0; }
  bool deliver(uint64_t id, std::string_view payload) override {
    if (!connected.count(id)) return false;
    if (subscribed.count(id)) got[id].emplace_back(payload);
    return true;
  }
};

std::string keys(std::initializer_list<std::string_view> ks) {
  std::string s = "*" + std::to_string(ks.size()) + "\r\n";
  for (auto k : ks) s += "$" + std::to_string(k.size()) + "\r\n" + std::string(k) + "\r\n";
  return s;
}

Request parse(const std::vector<std::string_view>& args, const Peers& peers, std::string* err) {
  Request req;
  *err = parse_request(args, peers, &req);
  return req;
}

struct Fixture {
  FakePeers peers;
  Tracker tracker{peers};
  static constexpr uint64_t kBus = 1, kData = 2, kOther = 3;
  Fixture() {
    peers.connected = {kBus, kData, kOther};
    peers.subscribed = {kBus};
  }
  void on(uint64_t client, std::vector<std::string_view> args) {
    args.insert(args.begin(), {"client", "tracking", "on"});
    std::string err;
    Request req = parse(args, peers, &err);
    REQUIRE(err.empty());
    REQUIRE(tracker.enable(client, req).empty());
  }
  std::vector<std::string>& bus() { return peers.got[kBus]; }
};

}  // namespace

TEST_CASE("parse_request: Redis's texts, in its order") {
  FakePeers peers;
  peers.connected = {7};
  std::string err;
  parse({"client", "tracking", "on", "redirect", "x"}, peers, &err);
  CHECK(err == "ERR value is not an integer or out of range");
  parse({"client", "tracking", "on", "redirect", "8"}, peers, &err);
  CHECK(err == "ERR The client ID you want redirect to does not exist");
  parse({"client", "tracking", "on", "redirect", "7", "redirect", "7"}, peers, &err);
  CHECK(err == "ERR A client can only redirect to a single other client");
  parse({"client", "tracking", "on", "prefix"}, peers, &err);
  CHECK(err == "ERR syntax error");
  parse({"client", "tracking", "maybe"}, peers, &err);
  CHECK(err == "ERR syntax error");
  Request req = parse({"client", "tracking", "ON", "Bcast", "prefix", "a", "noloop"}, peers, &err);
  CHECK(err.empty());
  CHECK(req.on);
  CHECK(req.options == (kBcast | kNoLoop));
  CHECK(req.prefixes == std::vector<std::string_view>{"a"});
}

TEST_CASE_FIXTURE(Fixture, "default mode: a read key is invalidated once, in any db") {
  on(kData, {"redirect", "1"});
  std::string_view k[] = {"k"};
  tracker.remember_keys(kData, k);
  tracker.remember_keys(kData, k);
  CHECK(tracker.total_keys() == 1);
  CHECK(tracker.total_items() == 1);
  tracker.on_key_modified(4, "k", ModifiedBy::kCommand);
  CHECK(bus() == std::vector<std::string>{keys({"k"})});
  tracker.on_key_modified(0, "k", ModifiedBy::kCommand);
  CHECK(bus().size() == 1);
  CHECK(tracker.total_keys() == 0);
  CHECK(tracker.memory_bytes() == 0);
}

TEST_CASE_FIXTURE(Fixture, "default mode NOLOOP: the current client's own changes are skipped") {
  on(kData, {"redirect", "1", "noloop"});
  std::string_view k[] = {"k"};
  tracker.remember_keys(kData, k);
  tracker.set_current(kData);
  tracker.on_key_modified(0, "k", ModifiedBy::kExpiry);  // even an expiry during its request
  tracker.set_current(0);
  CHECK(bus().empty());
  CHECK(tracker.total_keys() == 0);  // forgotten all the same
}

TEST_CASE_FIXTURE(Fixture, "OPTIN and OPTOUT decide with CACHING, for one request") {
  on(kData, {"redirect", "1", "optin"});
  std::string_view a[] = {"a"}, b[] = {"b"};
  tracker.remember_keys(kData, a);
  CHECK(tracker.total_keys() == 0);
  CHECK(tracker.caching(kData, "yes").empty());
  tracker.remember_keys(kData, b);
  CHECK(tracker.total_keys() == 1);
  tracker.end_of_request(kData, false);
  CHECK(tracker.info(kData).flags == std::vector<std::string_view>{"on", "optin"});
  CHECK(tracker.caching(kData, "no") ==
        "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
}

TEST_CASE_FIXTURE(Fixture, "BCAST: keys batched per prefix, sorted, NOLOOP per client") {
  on(kData, {"redirect", "1", "bcast", "prefix", "u:", "noloop"});
  on(kOther, {"redirect", "1", "bcast"});
  tracker.set_modifier(kData);
  tracker.on_key_modified(0, "u:2", ModifiedBy::kCommand);
  tracker.set_modifier(kOther);
  tracker.on_key_modified(0, "u:1", ModifiedBy::kCommand);
  tracker.on_key_modified(0, "x", ModifiedBy::kCommand);
  tracker.set_modifier(0);
  tracker.on_key_modified(0, "u:3", ModifiedBy::kEviction);
  CHECK(bus().empty());  // nothing before the loop sleeps
  tracker.broadcast();
  std::multiset<std::string> got(bus().begin(), bus().end());
  CHECK(got == std::multiset<std::string>{keys({"u:1", "u:3"}), keys({"u:1", "u:2", "u:3", "x"})});
  bus().clear();
  tracker.broadcast();
  CHECK(bus().empty());
  CHECK(tracker.total_prefixes() == 2);
  tracker.disable(kOther);
  CHECK(tracker.total_prefixes() == 1);
}

TEST_CASE_FIXTURE(Fixture, "prefix overlaps are refused, with the existing prefix named") {
  on(kData, {"bcast", "prefix", "ab"});
  std::string err;
  Request req = parse({"client", "tracking", "on", "bcast", "prefix", "a"}, peers, &err);
  CHECK(tracker.enable(kData, req) ==
        "ERR Prefix 'a' overlaps with an existing prefix 'ab'. Prefixes for a single client "
        "must not overlap.");
}

TEST_CASE_FIXTURE(Fixture, "a vanished redirect client marks the redirect broken, silently") {
  on(kData, {"redirect", "1", "bcast"});
  peers.connected.erase(kBus);
  CHECK(tracker.info(kData).flags == std::vector<std::string_view>{"on", "bcast"});
  tracker.on_key_modified(0, "k", ModifiedBy::kCommand);
  tracker.broadcast();
  CHECK(tracker.info(kData).flags ==
        std::vector<std::string_view>{"on", "bcast", "broken_redirect"});
  CHECK(tracker.list_flags(kData) == "tRB");
}

TEST_CASE_FIXTURE(Fixture, "a flush sends nil to every tracking client and empties the table") {
  on(kData, {"redirect", "1"});
  on(kOther, {"redirect", "1", "bcast"});
  std::string_view k[] = {"k"};
  tracker.remember_keys(kData, k);
  tracker.on_flushed(-1);
  CHECK(bus() == std::vector<std::string>{"$-1\r\n", "$-1\r\n"});
  CHECK(tracker.total_keys() == 0);
  CHECK(tracker.total_items() == 0);
}

TEST_CASE_FIXTURE(Fixture, "limit_keys forgets keys down to the bound, invalidating each") {
  on(kData, {"redirect", "1"});
  std::vector<std::string> names;
  for (int i = 0; i < 50; ++i) names.push_back("key" + std::to_string(i));
  std::vector<std::string_view> views(names.begin(), names.end());
  tracker.remember_keys(kData, views);
  tracker.limit_keys(0);
  CHECK(tracker.total_keys() == 50);
  tracker.limit_keys(20);
  CHECK(tracker.total_keys() == 20);
  CHECK(bus().size() == 30);
  std::set<std::string> distinct(bus().begin(), bus().end());
  CHECK(distinct.size() == 30);
}
