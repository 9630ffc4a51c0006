// In-process fakes for unit tests of the sidecar core: an L2 link that records every request
// and lets the test answer them one by one (FakeL2Link), a client's own link over one
// (FakeDedicatedLink), an always-healthy invalidation source (FakeSource), a locator the test
// moves (FakeLocator), and hiredis replies built by hand (Reply).
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shared/metrics/info_text.h"
#include "sidecar/invalidation/source.h"
#include "sidecar/link/dedicated_link.h"
#include "sidecar/link/hiredis_link.h"
#include "sidecar/link/l2_link.h"
#include "sidecar/link/l2_locator.h"

namespace tiercache::sidecar::testing {

// A hiredis reply owned by the test.
class Reply {
 public:
  static std::unique_ptr<Reply> str(std::string s) {
    return make(REDIS_REPLY_STRING, std::move(s));
  }
  static std::unique_ptr<Reply> status(std::string s) {
    return make(REDIS_REPLY_STATUS, std::move(s));
  }
  static std::unique_ptr<Reply> error(std::string s) {
    return make(REDIS_REPLY_ERROR, std::move(s));
  }
  static std::unique_ptr<Reply> nil() { return make(REDIS_REPLY_NIL, ""); }
  // `*-1` (a blocking pop's timeout), as a HiredisLink reads it.
  static std::unique_ptr<Reply> null_array() {
    auto r = make(REDIS_REPLY_NIL, "");
    mark_null_array(&r->r_);
    return r;
  }
  static std::unique_ptr<Reply> integer(long long v) {
    auto r = make(REDIS_REPLY_INTEGER, "");
    r->r_.integer = v;
    return r;
  }
  static std::unique_ptr<Reply> array(std::vector<std::unique_ptr<Reply>> items) {
    auto r = make(REDIS_REPLY_ARRAY, "");
    r->kids_ = std::move(items);
    for (auto& k : r->kids_) r->ptrs_.push_back(&k->r_);
    r->r_.elements = r->ptrs_.size();
    r->r_.element = r->ptrs_.data();
    return r;
  }
  const redisReply* get() const { return &r_; }

 private:
  static std::unique_ptr<Reply> make(int type, std::string s) {
    auto r = std::unique_ptr<Reply>(new Reply());
    r->s_ = std::move(s);
    r->r_.type = type;
    r->r_.str = r->s_.data();
    r->r_.len = r->s_.size();
    return r;
  }
  Reply() = default;
  redisReply r_{};
  std::string s_;
  std::vector<std::unique_ptr<Reply>> kids_;
  std::vector<redisReply*> ptrs_;
};

// Decodes a RESP multibulk request into "ARG ARG ..." (for assertions).
inline std::string decode(std::string_view wire) {
  std::string out;
  size_t pos = wire.find("\r\n") + 2;
  while (pos < wire.size()) {
    size_t eol = wire.find("\r\n", pos);
    size_t len = std::stoul(std::string(wire.substr(pos + 1, eol - pos - 1)));
    if (!out.empty()) out += ' ';
    out += wire.substr(eol + 2, len);
    pos = eol + 2 + len + 2;
  }
  return out;
}

class FakeL2Link final : public L2Link {
 public:
  struct Request {
    std::string command;  // decoded: "GET k"
    std::unique_ptr<Completion> done;
  };

  void start() override {}
  void stop() override { fail_all(); }
  bool connected() const override { return up; }
  void reconnect(const std::string&) override {
    ++reconnects_asked;
    fail_all();
  }
  const std::string& last_error() const override { return error_; }
  bool send(std::span<const std::string_view> args, std::unique_ptr<Completion> done) override {
    std::string wire;
    format_command(wire, args);
    return send_formatted(wire, std::move(done));
  }
  bool send_formatted(std::string_view resp, std::unique_ptr<Completion> done) override {
    if (!up) {
      if (done) done->on_reply(nullptr);
      return false;
    }
    pending.push_back(Request{decode(resp), std::move(done)});
    return true;
  }
  uint64_t reconnects() const override { return losses; }
  const metrics::Histogram& latency_us() const override { return latency_; }

  // The connection is lost: what is pending fails, counted as HiredisLink counts it. Setting
  // `up` again is the reconnect.
  void drop() {
    up = false;
    ++losses;
    fail_all();
  }

  // The commands sent and not yet answered, in order.
  std::vector<std::string> commands() const {
    std::vector<std::string> v;
    for (const auto& p : pending) v.push_back(p.command);
    return v;
  }
  // Answers the oldest request (nullptr: it failed).
  void answer(const redisReply* r) {
    Request p = std::move(pending.front());
    pending.pop_front();
    if (p.done) p.done->on_reply(r);
  }
  void answer(const std::unique_ptr<Reply>& r) { answer(r->get()); }
  // Fails every pending request, as a lost connection does.
  void fail_all() {
    while (!pending.empty()) answer(static_cast<const redisReply*>(nullptr));
  }

  bool up = true;
  uint64_t losses = 0;
  int reconnects_asked = 0;
  std::deque<Request> pending;

 private:
  std::string error_ = "fake L2 down";
  metrics::Histogram latency_;
};

// A client's own link (sidecar/pinned.cc). What it sends, SELECTs included, is recorded in a
// FakeL2Link the test keeps (`link`: shared, so it outlives the sidecar's freeing of the link);
// losing that link's connection (link->drop()) loses this one for good, as the one-shot
// HiredisDedicatedLink.
class FakeDedicatedLink final : public DedicatedLink {
 public:
  struct Record {
    FakeL2Link link;
    std::string name;  // as the sidecar named it
    bool started = false;
    int stops = 0;
  };
  explicit FakeDedicatedLink(std::shared_ptr<Record> r) : r_(std::move(r)) {}
  ~FakeDedicatedLink() override { lose(); }

  void start() override { r_->started = true; }
  void stop() override {
    ++r_->stops;
    lose();
  }
  bool lost() const override { return !r_->link.up; }
  void reconnect(const std::string&) override { lose(); }
  const std::string& last_error() const override { return r_->link.last_error(); }
  bool send(std::span<const std::string_view> args, std::unique_ptr<Completion> done) override {
    std::string wire;
    format_command(wire, args);
    return send_formatted(wire, std::move(done));
  }
  bool send_formatted(std::string_view resp, std::unique_ptr<Completion> done) override {
    if (r_->link.up && want_db_ != db_) {
      const std::string db = std::to_string(want_db_);
      std::string_view select[] = {"SELECT", db};
      r_->link.send(select, nullptr);
      db_ = want_db_;
    }
    return r_->link.send_formatted(resp, std::move(done));
  }
  void use_db(int db) override { want_db_ = db; }
  size_t in_flight() const override { return r_->link.pending.size(); }
  const metrics::Histogram& latency_us() const override { return r_->link.latency_us(); }

 private:
  void lose() {
    if (r_->link.up) r_->link.drop();
  }
  std::shared_ptr<Record> r_;
  int db_ = 0;
  int want_db_ = 0;
};

class FakeSource final : public InvalidationSource {
 public:
  void start() override {}
  void stop() override {}
  bool healthy() const override { return is_healthy; }
  void reconnect(const std::string&) override { ++reconnects_asked; }
  std::string_view name() const override { return "fake"; }
  bool writes_publish() const override { return publishes; }
  // Records the groups; the link sees a PUBLISH as the Bus would send.
  std::optional<uint64_t> publish(L2Link& link,
                                  const std::vector<invalidation::Group>& groups) override {
    std::string_view pub[] = {"PUBLISH", "fake", "message"};
    link.send(pub, nullptr);
    published.push_back(groups);
    expected.push_back(++seq_);
    return seq_;
  }
  void forget(uint64_t seq) override { forgotten.push_back(seq); }
  void heartbeat(L2Link&) override { ++heartbeats; }
  bool tracks(std::string_view key) const override {
    return key.substr(0, prefix.size()) == prefix;
  }
  const BusStats& stats() const override { return stats_; }
  const metrics::Histogram& lag_us() const override { return lag_; }

  bool is_healthy = true;
  int reconnects_asked = 0;
  bool publishes = true;  // as the Bus; false: as the TrackingSource
  std::string prefix;     // tracks() only keys under it ("" = all)
  std::vector<uint64_t> expected, forgotten;
  std::vector<std::vector<invalidation::Group>> published;
  int heartbeats = 0;

 private:
  BusStats stats_;
  metrics::Histogram lag_;
  uint64_t seq_ = 0;
};

// Where the L2 is, as the test says: move_to() is a failover, found_again() a rediscovery
// that found the L2 where it was.
class FakeLocator final : public L2Locator {
 public:
  explicit FakeLocator(Endpoint e) : at(std::move(e)) {}
  void start(Listener* l) override { listener = l; }
  void stop() override { listener = nullptr; }
  bool locate(Endpoint* out, std::string* why) const override {
    if (!known) {
      *why = "fake: no L2 known";
      return false;
    }
    *out = at;
    return true;
  }
  void link_lost() override { ++losses; }
  void info(std::string& out) const override { metrics::info_field(out, "l2_mode", "fake"); }
  uint64_t switches() const override { return moves; }
  void move_to(Endpoint e) {
    at = std::move(e);
    ++moves;
    listener->on_l2_located(at, true);
  }
  void found_again() { listener->on_l2_located(at, false); }

  Endpoint at;
  bool known = true;
  uint64_t moves = 0;
  int losses = 0;
  Listener* listener = nullptr;
};

}  // namespace tiercache::sidecar::testing
