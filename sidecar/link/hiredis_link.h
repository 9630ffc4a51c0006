// HiredisLink: one connection to the L2 (hiredis async on the libuv loop) implementing L2Link:
// ordered requests, connect and request timeouts, reconnect with backoff, fail-fast while
// disconnected; also the subscribed-mode connection of the bus and of client pub/sub.
#pragma once

#include <hiredis/async.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "shared/metrics/histogram.h"
#include "shared/net/tls.h"
#include "sidecar/link/l2_link.h"
#include "sidecar/link/l2_locator.h"
#include "sidecar/link/tls_pump.h"

namespace tiercache::sidecar {

// request_timeout_ms of a connection that never times requests out (subscribed mode).
inline constexpr int64_t kNoRequestTimeout = 1000000000;

// A refusal of AUTH on the link's first connection (wrong user or password at start-up).
using AuthRefusedFn = void (*)(void* ctx, const std::string& error);

struct LinkOptions {
  Endpoint endpoint;  // where to connect, unless a locator is set
  // Asked before every connect (the L2 may move: l2-mode sentinel); nothing known: retry later.
  std::shared_ptr<const L2Locator> locator;
  std::string user;  // ACL user (empty: AUTH <password>, the default user)
  std::string password;
  std::shared_ptr<const net::TlsContext> tls;  // set: TLS to the L2 (TCP endpoints only)
  AuthRefusedFn on_auth_refused = nullptr;
  void* auth_ctx = nullptr;
  int64_t connect_timeout_ms = 250;
  int64_t request_timeout_ms = 1000;
  int64_t reconnect_max_ms = 2000;
  uint64_t max_reply_bytes = (512ull << 20) + (1 << 20);  // unparsed reply bytes buffered
  // A connection that is never re-established (a client's dedicated link: what it held at the
  // L2, a block or a WATCH, dies with it): a failed connect or a lost connection stops the
  // link and reports on_state(false) even if it never connected.
  bool one_shot = false;
};

// Connection state changes (connected = true once usable, false when lost).
using StateFn = void (*)(void* ctx, bool connected);
// Replies of a connection in subscribed mode (confirmations and messages); nullptr when the
// connection is lost.
using PushFn = void (*)(void* ctx, const redisReply* reply);

class HiredisLink final : public L2Link, private TlsPump::Events {
 public:
  HiredisLink(uv_loop_t* loop, LinkOptions options, std::string name, StateFn on_state,
              void* state_ctx);
  ~HiredisLink() override;
  HiredisLink(const HiredisLink&) = delete;
  HiredisLink& operator=(const HiredisLink&) = delete;

  void start() override;
  // Closes the connection (pending requests fail) and stops reconnecting.
  void stop() override;
  bool connected() const override { return state_ == State::kConnected; }
  // Drops the connection now (pending requests fail) and reconnects with backoff.
  void reset(const std::string& why) { fail(why); }
  // Drops the connection now (pending requests fail) and reconnects at once, to where the
  // locator says (a one-shot link is lost).
  void reconnect(const std::string& why) override;
  // Handles what the socket already holds (a finished connect, replies, pushed messages)
  // before a timeout is judged: after the process stalled, libuv runs its timers before it
  // polls, so input that arrived in time would otherwise be judged missing.
  void take_ready_input();
  const std::string& last_error() const override { return last_error_; }

  // L2Link
  bool send(std::span<const std::string_view> args, std::unique_ptr<Completion> done) override;
  bool send_formatted(std::string_view resp, std::unique_ptr<Completion> done) override;

  // Subscribed mode: sends (P)SUBSCRIBE/(P)UNSUBSCRIBE; every reply they cause, now and later,
  // goes to the push handler. False when not connected.
  void set_push_handler(PushFn fn, void* ctx) {
    push_fn_ = fn;
    push_ctx_ = ctx;
  }
  bool send_push(std::span<const std::string_view> args);

  size_t in_flight() const { return pending_.size(); }
  uint64_t errors() const { return errors_; }
  uint64_t reconnects() const override { return reconnects_; }
  const metrics::Histogram& latency_us() const override { return latency_; }

 private:
  enum class State { kIdle, kConnecting, kConnected, kStopped };
  struct Pending {
    std::unique_ptr<Completion> done;  // null: reply dropped
    uint64_t sent_us;
  };

  static void on_connect(const redisAsyncContext* ac, int status);
  static void on_disconnect(const redisAsyncContext* ac, int status);
  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_push(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_timer(uv_timer_t* t);
  void connect();
  // Takes a freshly connected hiredis context (plain TCP, Unix, or the TLS pump's local end).
  void attach(redisAsyncContext* ac);
  void send_auth();
  // TlsPump::Events
  void on_tls_ready() override;
  void on_tls_failed(const std::string& why) override { fail(why); }
  void fail(const std::string& why);  // drop the connection, fail pending, schedule reconnect
  // The oldest pending request has waited past its timeout and nothing has come from the L2
  // for as long: a deep pipeline of large replies that keeps arriving is slow, not dead.
  bool request_overdue(uint64_t now_us) const;
  void note_input(uint64_t now_us);  // the tick's check for bytes read since the last one

  uv_loop_t* loop_;
  LinkOptions options_;
  std::string name_;
  StateFn on_state_;
  void* state_ctx_;
  redisAsyncContext* ac_ = nullptr;
  std::unique_ptr<TlsPump> pump_;  // TLS links: the TCP side under hiredis
  bool auth_accepted_once_ = false;
  State state_ = State::kIdle;
  std::deque<Pending> pending_;
  std::string scratch_;
  PushFn push_fn_ = nullptr;
  void* push_ctx_ = nullptr;
  uv_timer_t* timer_;  // heap: freed in its close callback, which may run after this object
  uint64_t connect_started_us_ = 0;
  uint64_t input_us_ = 0;       // when a reply or part of one last came in
  size_t input_seen_bytes_ = 0;  // the reader's buffered length at the last tick
  uint64_t next_attempt_us_ = 0;
  int64_t backoff_ms_ = 50;
  std::string last_error_;
  uint64_t errors_ = 0;
  uint64_t reconnects_ = 0;
  metrics::Histogram latency_;
};

// Appends a hiredis reply to out in RESP2, as the L2 sent it. Depth-limited; deeper replies
// become an error.
void write_reply(std::string& out, const redisReply* r);
// hiredis reads a null array (`*-1`: a blocking pop's timeout, an EXEC a WATCH aborted,
// GEOPOS's missing member) and a null bulk (`$-1`) into the same REDIS_REPLY_NIL, but Redis's
// clients tell them apart. A reader with these functions (every HiredisLink's) marks the nil
// of a null array, so write_reply relays what the L2 sent.
redisReplyObjectFunctions* reply_functions();
redisReader* make_reply_reader();  // a reader with them (freed with redisReaderFree)
bool is_null_array(const redisReply* r);
void mark_null_array(redisReply* r);  // (fakes)
// The size of a reply in RESP2 on the wire (what a subscription received), in bytes.
size_t resp_size(const redisReply* r);
// Formats args as a RESP2 multibulk request into out (replacing its contents).
void format_command(std::string& out, std::span<const std::string_view> args);

}  // namespace tiercache::sidecar
