// Unit tests of where the L2 is (sidecar/link/l2_locator.h, sentinel_locator.h, l2_follow.cc):
// endpoint lists, the sentinel replies' interpretation, and what the sidecar core does when a
// (fake) locator says the L2 moved: reads in flight fail, L1 is flushed, every link moves.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "sidecar/link/sentinel_locator.h"
#include "tests/sidecar/fake_l2.h"
#include "tests/sidecar/harness.h"

namespace tiercache::sidecar {
namespace {

using testing::FakeLocator;
using testing::Harness;
using testing::Reply;
using V = std::vector<std::string>;

std::unique_ptr<Reply> words(std::vector<std::string> items) {
  std::vector<std::unique_ptr<Reply>> r;
  for (auto& s : items) r.push_back(Reply::str(s));
  return Reply::array(std::move(r));
}

TEST_CASE("l2 lists: one or several addresses, each checked") {
  std::vector<Endpoint> eps;
  std::string error;
  REQUIRE(parse_endpoint_list("127.0.0.1:26379, [::1]:26380,unix:/tmp/s", &eps, &error));
  REQUIRE(eps.size() == 3);
  CHECK(endpoint_text(eps[0]) == "127.0.0.1:26379");
  CHECK(endpoint_text(eps[1]) == "[::1]:26380");
  CHECK(endpoint_text(eps[2]) == "unix:/tmp/s");
  CHECK_FALSE(parse_endpoint_list("127.0.0.1:1,", &eps, &error));
  CHECK_FALSE(parse_endpoint_list("127.0.0.1:1,host", &eps, &error));
  CHECK(error.find("expected HOST:PORT") != std::string::npos);
  FixedLocator fixed(eps[0]);
  Endpoint at;
  CHECK(fixed.locate(&at, &error));
  CHECK(at == eps[0]);
}

TEST_CASE("sentinel replies: master address, ROLE, +switch-master") {
  Endpoint e;
  std::string why;
  CHECK(master_addr_reply(words({"10.0.0.2", "6380"})->get(), &e, &why));
  CHECK(endpoint_text(e) == "10.0.0.2:6380");
  CHECK_FALSE(master_addr_reply(Reply::nil()->get(), &e, &why));
  CHECK(why == "the sentinel does not know this master");
  CHECK_FALSE(master_addr_reply(Reply::error("IDONTKNOW")->get(), &e, &why));
  CHECK_FALSE(master_addr_reply(words({"10.0.0.2", "0"})->get(), &e, &why));
  CHECK_FALSE(master_addr_reply(words({"10.0.0.2"})->get(), &e, &why));
  CHECK_FALSE(master_addr_reply(nullptr, &e, &why));

  CHECK(role_is_master(words({"master", "0"})->get()));
  CHECK_FALSE(role_is_master(words({"slave", "10.0.0.1", "6379"})->get()));
  CHECK_FALSE(role_is_master(Reply::error("NOAUTH")->get()));

  auto msg = [](std::string text) {
    return words({"message", "+switch-master", std::move(text)});
  };
  CHECK(switch_master_message(msg("main 10.0.0.1 6379 10.0.0.2 6380")->get(), "main", &e));
  CHECK(endpoint_text(e) == "10.0.0.2:6380");
  CHECK_FALSE(switch_master_message(msg("other 10.0.0.1 6379 10.0.0.3 6380")->get(), "main", &e));
  CHECK_FALSE(switch_master_message(msg("main 10.0.0.1 6379 10.0.0.2")->get(), "main", &e));
  CHECK_FALSE(switch_master_message(msg("main 10.0.0.1 6379 10.0.0.2 6380 x")->get(), "main", &e));
  CHECK_FALSE(
      switch_master_message(words({"subscribe", "+switch-master", "1"})->get(), "main", &e));
}

Endpoint at(int port) {
  Endpoint e;
  e.host = "10.0.0.1";
  e.port = port;
  return e;
}

TEST_CASE("a move of the L2 fails reads in flight, flushes L1 and moves every link") {
  auto locator = std::make_shared<FakeLocator>(at(6379));
  Harness h(Config(), locator);
  auto* a = h.client();
  h.request(a, {"GET", "cached"});
  h.l2->answer(Reply::str("old"));
  h.l2->answer(Reply::integer(-1));
  CHECK(Harness::replies(a) == "$3\r\nold\r\n");
  h.request(a, {"GET", "cached"});
  CHECK(Harness::replies(a) == "$3\r\nold\r\n");  // an L1 hit
  CHECK(h.l2->pending.empty());
  auto* b = h.client();
  h.request(b, {"GET", "flying"});
  CHECK(h.sent() == V{"GET flying", "PTTL flying"});
  const uint64_t flushes = h.sidecar->stats().l1_flushes;

  locator->found_again();  // where it was: nothing happens
  CHECK(h.l2->reconnects_asked == 0);
  CHECK(h.sidecar->stats().l1_flushes == flushes);

  locator->move_to(at(6380));
  CHECK(h.l2->reconnects_asked == 1);
  CHECK(h.bus->reconnects_asked == 1);
  CHECK(h.sidecar->stats().l1_flushes == flushes + 1);
  CHECK(Harness::replies(b).rfind("-ERR tiercache: L2 unavailable", 0) == 0);
  h.request(a, {"GET", "cached"});  // not from L1: from the new master
  CHECK(h.sent() == V{"GET cached", "PTTL cached"});
  h.l2->answer(Reply::str("new"));
  h.l2->answer(Reply::integer(-1));
  CHECK(Harness::replies(a) == "$3\r\nnew\r\n");
  CHECK(h.sidecar->info("server").find("l2_mode:fake") != std::string::npos);
}

}  // namespace
}  // namespace tiercache::sidecar
