// Unit tests of the CLIENT TRACKING source (sidecar/invalidation/tracking.h): how replies on the
// tracking connection are read, the prefixes and the CLIENT TRACKING command, and the heartbeat
// round trip, over the fake L2 link (no sockets: the connection is never started).
#include "sidecar/invalidation/tracking.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/sidecar/fake_l2.h"

namespace tiercache::sidecar {
namespace {

using testing::FakeL2Link;
using testing::Reply;
using V = std::vector<std::string>;

std::unique_ptr<Reply> push(std::string kind, std::string channel,
                            std::unique_ptr<Reply> body) {
  std::vector<std::unique_ptr<Reply>> items;
  items.push_back(Reply::str(std::move(kind)));
  items.push_back(Reply::str(std::move(channel)));
  items.push_back(std::move(body));
  return Reply::array(std::move(items));
}

std::unique_ptr<Reply> keys(std::initializer_list<const char*> ks) {
  std::vector<std::unique_ptr<Reply>> items;
  for (const char* k : ks) items.push_back(Reply::str(k));
  return Reply::array(std::move(items));
}

TEST_CASE("tracking messages: keys, nil as a flush, the subscribe confirmation, junk") {
  TrackingPush p;
  auto ab = push("message", "__redis__:invalidate", keys({"a", "bc"}));  // p.keys view into it
  parse_tracking_push(ab->get(), &p);
  CHECK(p.kind == TrackingPush::Kind::kKeys);
  CHECK(p.keys == std::vector<std::string_view>{"a", "bc"});
  CHECK(p.bytes == 3);
  parse_tracking_push(push("message", "__redis__:invalidate", Reply::nil())->get(), &p);
  CHECK(p.kind == TrackingPush::Kind::kFlush);
  parse_tracking_push(push("subscribe", "__redis__:invalidate", Reply::integer(1))->get(), &p);
  CHECK(p.kind == TrackingPush::Kind::kSubscribed);
  parse_tracking_push(push("message", "other", keys({"a"}))->get(), &p);
  CHECK(p.kind == TrackingPush::Kind::kIgnored);
  parse_tracking_push(push("message", "__redis__:invalidate", Reply::integer(3))->get(), &p);
  CHECK(p.kind == TrackingPush::Kind::kBad);
  std::vector<std::unique_ptr<Reply>> mixed;
  mixed.push_back(Reply::str("a"));
  mixed.push_back(Reply::integer(1));
  parse_tracking_push(push("message", "__redis__:invalidate", Reply::array(std::move(mixed)))->get(),
                      &p);
  CHECK(p.kind == TrackingPush::Kind::kBad);
  CHECK(p.keys.empty());
  parse_tracking_push(Reply::status("PONG")->get(), &p);
  CHECK(p.kind == TrackingPush::Kind::kIgnored);
}

TEST_CASE("prefixes: normalized as Redis needs them (no overlaps), the reserved one refused") {
  V out;
  std::string error;
  REQUIRE(normalize_prefixes({"b:", "a:", "a:x", "b:", "c"}, &out, &error));
  CHECK(out == V{"a:", "b:", "c"});
  REQUIRE(normalize_prefixes({"a:", ""}, &out, &error));
  CHECK(out.empty());  // "" is every key
  CHECK_FALSE(normalize_prefixes({"__tiercache:x"}, &out, &error));
  CHECK(error.find("reserved") != std::string::npos);
}

TEST_CASE("CLIENT TRACKING: BCAST redirected; the heartbeat key tracked unless covered") {
  const std::string hb = "__tiercache:hb:00ff";
  CHECK(tracking_command(7, {}, hb) == V{"CLIENT", "TRACKING", "on", "REDIRECT", "7", "BCAST"});
  CHECK(tracking_command(7, {"app:"}, hb) == V{"CLIENT", "TRACKING", "on", "REDIRECT", "7",
                                               "BCAST", "PREFIX", "app:", "PREFIX", hb});
  CHECK(tracking_command(7, {"__"}, hb) ==
        V{"CLIENT", "TRACKING", "on", "REDIRECT", "7", "BCAST", "PREFIX", "__"});
}

struct Events final : BusListener {
  std::vector<std::string> keys;
  int flushes = 0, unhealthy = 0, healthy = 0, current = 0;
  void on_invalidation(const invalidation::Message& m) override {
    if (!m.groups.empty() && m.groups[0].flush) ++flushes;
  }
  void on_keys_invalidated(std::span<const std::string_view> ks) override {
    for (auto k : ks) keys.emplace_back(k);
  }
  void on_bus_unhealthy(const std::string&) override { ++unhealthy; }
  void on_bus_healthy() override { ++healthy; }
  void on_bus_current(uint64_t) override { ++current; }
};

TEST_CASE("the tracking source: healthy once subscribed; the heartbeat comes back as a key") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  Events ev;
  {
    TrackingOptions o;
    o.prefixes = {"app:"};
    o.heartbeat_key = "__tiercache:hb:1";
    LinkOptions link;
    link.endpoint.host = "127.0.0.1";
    link.endpoint.port = 1;
    TrackingSource src(&loop, link, o, &ev);
    CHECK_FALSE(src.healthy());
    CHECK(src.tracks("app:1"));
    CHECK_FALSE(src.tracks("other"));
    src.handle(push("subscribe", "__redis__:invalidate", Reply::integer(1))->get());
    CHECK(src.healthy());
    CHECK(ev.unhealthy == 1);  // flushed before serving
    CHECK(ev.healthy == 1);

    FakeL2Link l2;
    src.heartbeat(l2);
    REQUIRE(l2.commands().size() == 1);
    CHECK(l2.commands()[0] == "SET __tiercache:hb:1 1 PX 60000");
    src.heartbeat(l2);  // one in flight at a time
    CHECK(l2.commands().size() == 1);
    l2.answer(Reply::status("OK"));
    src.handle(push("message", "__redis__:invalidate", keys({"app:1", "__tiercache:hb:1"}))->get());
    CHECK(ev.keys == V{"app:1"});  // the heartbeat key is not passed on
    CHECK(ev.current == 1);
    CHECK(src.stats().own_echoes == 1);
    CHECK(src.lag_us().count() == 1);
    src.heartbeat(l2);  // the next one may go
    CHECK(l2.commands() == V{"SET __tiercache:hb:1 2 PX 60000"});

    src.handle(push("message", "__redis__:invalidate", Reply::nil())->get());
    CHECK(ev.flushes == 1);
    CHECK(src.stats().received == 2);
    src.stop();
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

}  // namespace
}  // namespace tiercache::sidecar
