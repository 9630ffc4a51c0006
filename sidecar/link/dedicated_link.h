// DedicatedLink: one client's own connection to the L2, for what cannot share the ordered link
// every client of the sidecar uses: a blocking command (BLPOP & co block the connection they run
// on) and WATCH (the L2 watches keys per connection). Owned by the client's state
// (sidecar/state.h); freeing it closes the connection, so the L2 unblocks the client and forgets
// its WATCH. The interface is the seam pinned.cc uses (a fake in unit tests,
// tests/sidecar/fake_l2.h); HiredisDedicatedLink is the real one: a HiredisLink in one-shot mode
// (never re-established: a block or a WATCH does not survive a new connection) without a
// request timeout (a BLPOP 0 waits as long as it takes; the command's own timeout is the L2's),
// that queues what is sent while it connects and keeps the client's selected db.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "sidecar/link/hiredis_link.h"
#include "sidecar/link/l2_link.h"
#include "sidecar/link/l2_locator.h"

namespace tiercache::sidecar {

class DedicatedLink : public L2Link {
 public:
  // Usable: connected, or connecting (requests wait in order). False once lost.
  bool connected() const override { return !lost(); }
  // Lost for good: stopped, or its connection failed or closed (one-shot).
  virtual bool lost() const = 0;
  // The db the following requests run in (the client's selected db): a SELECT goes first
  // whenever it changed.
  virtual void use_db(int db) = 0;
  // Requests sent or queued and not answered yet.
  virtual size_t in_flight() const = 0;
  uint64_t reconnects() const override { return 0; }
};

// Opens (not started) a client's own link to the L2 `at` names, called `name` in logs.
using DedicatedLinkFactory =
    std::function<std::unique_ptr<DedicatedLink>(std::shared_ptr<const L2Locator> at,
                                                 std::string name)>;

class HiredisDedicatedLink final : public DedicatedLink {
 public:
  // options: the shared link's (address, TLS, AUTH); one_shot and no request timeout are set
  // here.
  HiredisDedicatedLink(uv_loop_t* loop, LinkOptions options, std::string name);
  ~HiredisDedicatedLink() override;

  void start() override { link_.start(); }
  // Fails what is queued or in flight and stays down.
  void stop() override;
  bool lost() const override { return lost_; }
  // One-shot: the L2 moved, so the link is lost (what it held there is gone).
  void reconnect(const std::string& why) override { link_.reconnect(why); }
  const std::string& last_error() const override { return link_.last_error(); }
  // Requests go out in call order.
  bool send(std::span<const std::string_view> args, std::unique_ptr<Completion> done) override;
  bool send_formatted(std::string_view resp, std::unique_ptr<Completion> done) override;
  void use_db(int db) override { want_db_ = db; }
  size_t in_flight() const override { return link_.in_flight() + waiting_.size(); }
  const metrics::Histogram& latency_us() const override { return link_.latency_us(); }

 private:
  static void on_state(void* ctx, bool connected);
  bool pass(std::string_view resp, std::unique_ptr<Completion> done);

  HiredisLink link_;
  // Requests made while connecting, sent once connected.
  std::deque<std::pair<std::string, std::unique_ptr<Completion>>> waiting_;
  int db_ = 0;  // the connection's selected db (a new connection starts in 0)
  int want_db_ = 0;
  bool lost_ = false;
  std::string scratch_;
};

}  // namespace tiercache::sidecar
