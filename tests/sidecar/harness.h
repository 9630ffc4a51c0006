// The sidecar core over the fake L2 link and invalidation source (fake_l2.h), for unit tests:
// a started Sidecar with its own L1 segment, socket-less clients, fake links for the clients
// that need their own (pinned.cc), and helpers to send requests, take replies and inject
// another host's invalidation.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "l1/store.h"
#include "sidecar/invalidation/message.h"
#include "sidecar/sidecar.h"
#include "tests/sidecar/fake_l2.h"

namespace tiercache::sidecar::testing {

inline std::atomic<int> g_segment{0};

struct Harness {
  // locator: where the fake links are (a FakeLocator moves them); null: the l2 option's.
  explicit Harness(Config cfg = Config(), std::shared_ptr<L2Locator> locator = nullptr) {
    cfg.shm_name = "ut-sc-" + std::to_string(getpid()) + "-" + std::to_string(g_segment++);
    cfg.l1_memory = 4ull << 20;
    cfg.socket.clear();
    shm_name = cfg.shm_name;
    sidecar = std::make_unique<Sidecar>(cfg);
    auto link = std::make_unique<FakeL2Link>();
    auto source = std::make_unique<FakeSource>();
    l2 = link.get();
    bus = source.get();
    sidecar->set_dedicated_links([this](std::shared_ptr<const L2Locator>, std::string name) {
      auto r = std::make_shared<FakeDedicatedLink::Record>();
      r->name = std::move(name);
      dedicated.push_back(r);
      return std::make_unique<FakeDedicatedLink>(std::move(r));
    });
    std::string error;
    REQUIRE_MESSAGE(sidecar->start_with(std::move(link), std::move(source), &error,
                                                std::move(locator)), error);
  }
  ~Harness() {
    for (net::Connection* c : clients) c->close();
    sidecar.reset();
    l1::Store::unlink(shm_name);
  }
  net::Connection* client() {
    clients.push_back(sidecar->open_internal());
    return clients.back();
  }
  // Closes a client as its disconnect would.
  void close(net::Connection* c) {
    std::erase(clients, c);
    c->close();
  }
  void request(net::Connection* c, std::initializer_list<std::string_view> args) {
    std::vector<std::string_view> v(args);
    sidecar->on_request(*c, v);
  }
  // The replies the client got so far (taken).
  static std::string replies(net::Connection* c) {
    std::string out;
    out.swap(c->output());
    return out;
  }
  std::vector<std::string> sent() const { return l2->commands(); }
  // A bus message from another sidecar dropping `key` in db 0.
  void invalidate_from_another_host(std::string key) {
    invalidation::Message m;
    m.origin = 42;
    m.seq = ++seq;
    m.groups.push_back(invalidation::Group{0, false, {std::move(key)}});
    sidecar->on_invalidation(m);
  }
  uint64_t seq = 0;

  std::string shm_name;
  std::unique_ptr<Sidecar> sidecar;
  FakeL2Link* l2 = nullptr;
  FakeSource* bus = nullptr;
  std::vector<net::Connection*> clients;
  // Clients' own links (pinned.cc), in the order the sidecar opened them.
  std::vector<std::shared_ptr<FakeDedicatedLink::Record>> dedicated;
};


}  // namespace tiercache::sidecar::testing
