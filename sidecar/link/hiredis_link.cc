// HiredisLink (see hiredis_link.h).
#include "sidecar/link/hiredis_link.h"

#include <algorithm>
#include <poll.h>
#include <time.h>

#include "shared/log/log.h"
#include "shared/resp/reply_writer.h"
#include "shared/util/numbers.h"
#include "sidecar/clock.h"
#include "sidecar/link/hiredis_uv.h"

namespace tiercache::sidecar {

void format_command(std::string& out, std::span<const std::string_view> args) {
  out.clear();
  out.push_back('*');
  util::append_int64(out, static_cast<int64_t>(args.size()));
  out.append("\r\n");
  for (auto a : args) {
    out.push_back('$');
    util::append_int64(out, static_cast<int64_t>(a.size()));
    out.append("\r\n");
    out.append(a);
    out.append("\r\n");
  }
}

namespace {

// A null array's mark on hiredis's nil reply: its `integer`, unused (and not freed) for a nil.
constexpr long long kNullArray = 1;

void* (*g_hiredis_nil)(const redisReadTask*) = nullptr;

// hiredis's own nil, marked when the reader met `*-1` (the task is an array's).
void* create_nil(const redisReadTask* task) {
  void* obj = g_hiredis_nil(task);
  if (obj != nullptr && task->type == REDIS_REPLY_ARRAY) mark_null_array(static_cast<redisReply*>(obj));
  return obj;
}

void write_reply_depth(std::string& out, const redisReply* r, int depth) {
  if (depth > 64) return resp::write_error(out, "ERR tiercache: L2 reply nested too deeply");
  switch (r->type) {
    case REDIS_REPLY_STRING:
      return resp::write_bulk(out, std::string_view(r->str, r->len));
    case REDIS_REPLY_STATUS:
      return resp::write_simple(out, std::string_view(r->str, r->len));
    case REDIS_REPLY_ERROR:
      return resp::write_error(out, std::string_view(r->str, r->len));
    case REDIS_REPLY_INTEGER:
      return resp::write_integer(out, r->integer);
    case REDIS_REPLY_NIL:
      return is_null_array(r) ? resp::write_null_array(out) : resp::write_null(out);
    case REDIS_REPLY_ARRAY:
      resp::write_array_header(out, static_cast<int64_t>(r->elements));
      for (size_t i = 0; i < r->elements; ++i) write_reply_depth(out, r->element[i], depth + 1);
      return;
    default:
      return resp::write_error(out, "ERR tiercache: unexpected reply type from L2");
  }
}
}  // namespace

void write_reply(std::string& out, const redisReply* r) { write_reply_depth(out, r, 0); }

redisReplyObjectFunctions* reply_functions() {
  static redisReplyObjectFunctions fn = [] {
    redisReader* reader = redisReaderCreate();  // hiredis's defaults, which are not exported
    redisReplyObjectFunctions f = *reader->fn;
    redisReaderFree(reader);
    g_hiredis_nil = f.createNil;
    f.createNil = create_nil;
    return f;
  }();
  return &fn;
}

redisReader* make_reply_reader() {
  redisReader* reader = redisReaderCreate();
  if (reader != nullptr) reader->fn = reply_functions();
  return reader;
}

void mark_null_array(redisReply* r) { r->integer = kNullArray; }

bool is_null_array(const redisReply* r) {
  return r->type == REDIS_REPLY_NIL && r->integer == kNullArray;
}

size_t resp_size(const redisReply* r) {
  auto digits = [](long long v) { return std::to_string(v).size(); };
  switch (r->type) {
    case REDIS_REPLY_STRING:
      return 1 + digits(static_cast<long long>(r->len)) + 2 + r->len + 2;
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return 1 + r->len + 2;
    case REDIS_REPLY_INTEGER:
      return 1 + digits(r->integer) + 2;
    case REDIS_REPLY_NIL:
      return 5;  // $-1\r\n or *-1\r\n
    case REDIS_REPLY_ARRAY: {
      size_t n = 1 + digits(static_cast<long long>(r->elements)) + 2;
      for (size_t i = 0; i < r->elements; ++i) n += resp_size(r->element[i]);
      return n;
    }
    default:
      return 0;
  }
}

HiredisLink::HiredisLink(uv_loop_t* loop, LinkOptions options, std::string name, StateFn on_state,
                         void* state_ctx)
    : loop_(loop),
      options_(std::move(options)),
      name_(std::move(name)),
      on_state_(on_state),
      state_ctx_(state_ctx) {
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
}

HiredisLink::~HiredisLink() {
  if (state_ != State::kStopped) stop();
}

void HiredisLink::start() {
  // The tick judges deadlines. A client's dedicated link (one_shot, no request timeout; there
  // may be a thousand, blocked in BLPOP) only needs it for the connect timeout and the
  // reply-size bound, which a slower tick serves as well.
  const uint64_t tick_ms = options_.one_shot ? 100 : 20;
  uv_timer_start(timer_, on_timer, tick_ms, tick_ms);
  connect();
}

void HiredisLink::stop() {
  if (state_ == State::kStopped) return;
  state_ = State::kStopped;
  if (ac_ != nullptr) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    last_error_ = "shutting down";
    redisAsyncFree(ac);  // fails every pending request (callbacks with nullptr)
  }
  pump_.reset();
  if (timer_ != nullptr) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
}

void HiredisLink::connect() {
  if (state_ == State::kStopped) return;
  Endpoint ep = options_.endpoint;
  std::string why;
  if (options_.locator && !options_.locator->locate(&ep, &why)) return fail(why);
  connect_started_us_ = steady_us();
  if (options_.tls) {  // hiredis is attached once the handshake is done (on_tls_ready)
    pump_ = std::make_unique<TlsPump>(loop_, *options_.tls, static_cast<TlsPump::Events*>(this));
    std::string error;
    state_ = State::kConnecting;
    if (!pump_->connect(ep.host, ep.port, &error)) fail(error);
    return;
  }
  attach(ep.unix_socket ? redisAsyncConnectUnix(ep.host.c_str())
                        : redisAsyncConnect(ep.host.c_str(), ep.port));
}

void HiredisLink::on_tls_ready() {
  std::string error;
  std::unique_ptr<PlainRendezvous> local = PlainRendezvous::open(&error);  // gone on return
  if (local == nullptr) return fail(error);
  redisAsyncContext* ac = redisAsyncConnectUnix(local->path().c_str());
  int fd = ac != nullptr && !ac->err ? local->accept_one() : -1;
  if (fd < 0 && ac != nullptr && !ac->err) {
    redisAsyncFree(ac);
    return fail("TLS link: the local end did not connect");
  }
  if (fd >= 0 && !pump_->attach_plain(fd, &error)) {
    redisAsyncFree(ac);
    return fail(error);
  }
  attach(ac);
}

void HiredisLink::attach(redisAsyncContext* ac) {
  if (ac == nullptr || ac->err) {
    last_error_ = ac ? ac->errstr : "out of memory";
    if (ac) redisAsyncFree(ac);
    fail(last_error_);
    return;
  }
  ac->data = this;
  ac->c.reader->fn = reply_functions();  // null arrays told apart (write_reply)
  input_us_ = 0;
  input_seen_bytes_ = 0;
  if (attach_to_loop(ac, loop_) != REDIS_OK) {
    redisAsyncFree(ac);
    fail("cannot watch the L2 connection on the event loop");
    return;
  }
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  ac_ = ac;
  state_ = State::kConnecting;
}

void HiredisLink::on_connect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<HiredisLink*>(ac->data);
  if (self == nullptr || self->ac_ != ac) return;
  if (status != REDIS_OK) {
    // hiredis frees the context after this callback.
    self->ac_ = nullptr;
    self->fail(std::string("cannot connect to L2: ") + ac->errstr);
    return;
  }
  self->state_ = State::kConnected;
  self->backoff_ms_ = 50;
  self->send_auth();
  if (self->options_.one_shot)
    log::debug("{}: connected to L2", self->name_);  // one per client: not at info
  else
    log::info("{}: connected to L2", self->name_);
  if (self->on_state_) self->on_state_(self->state_ctx_, true);
}

void HiredisLink::send_auth() {
  if (options_.password.empty() && options_.user.empty()) return;
  struct AuthCheck final : Completion {
    HiredisLink* link;  // outlives the request (it owns it)
    explicit AuthCheck(HiredisLink* l) : link(l) {}
    void on_reply(const redisReply* r) override {
      if (r == nullptr) return;
      if (r->type != REDIS_REPLY_ERROR) {
        link->auth_accepted_once_ = true;
        return;
      }
      std::string why = "L2 refused AUTH";
      if (!link->options_.user.empty()) why += " as user '" + link->options_.user + "'";
      why += ": " + std::string(r->str, r->len);
      log::error("{}: {}", link->name_, why);
      if (!link->auth_accepted_once_ && link->options_.on_auth_refused)
        link->options_.on_auth_refused(link->options_.auth_ctx, why);
    }
  };
  if (options_.user.empty()) {
    std::string_view args[] = {"AUTH", options_.password};
    send(args, std::make_unique<AuthCheck>(this));
  } else {
    std::string_view args[] = {"AUTH", options_.user, options_.password};
    send(args, std::make_unique<AuthCheck>(this));
  }
}

void HiredisLink::on_disconnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<HiredisLink*>(ac->data);
  if (self == nullptr || self->ac_ != ac) return;  // a context we already dropped
  self->ac_ = nullptr;                             // hiredis frees it after this callback
  self->fail(status == REDIS_OK ? "L2 closed the connection"
                                : std::string("L2 connection lost: ") + ac->errstr);
}

void HiredisLink::fail(const std::string& why) {
  bool was_connected = state_ == State::kConnected;
  if (state_ != State::kStopped) state_ = State::kIdle;
  last_error_ = why;
  if (ac_ != nullptr) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    ac->data = nullptr;
    redisAsyncFree(ac);  // calls every pending callback with nullptr
  }
  pump_.reset();
  // Callbacks of a context hiredis frees itself arrive through on_reply with nullptr too.
  if (state_ == State::kStopped) return;
  if (options_.one_shot) {
    log::debug("{}: {}", name_, why);
    stop();
    if (on_state_) on_state_(state_ctx_, false);
    return;
  }
  ++reconnects_;
  next_attempt_us_ = steady_us() + static_cast<uint64_t>(backoff_ms_) * 1000;
  backoff_ms_ =
      backoff_ms_ * 2 > options_.reconnect_max_ms ? options_.reconnect_max_ms : backoff_ms_ * 2;
  log::warn("{}: {} (retrying in {} ms)", name_, why, backoff_ms_);
  if (was_connected && on_state_) on_state_(state_ctx_, false);
}

void HiredisLink::reconnect(const std::string& why) {
  if (state_ == State::kStopped) return;
  fail(why);
  backoff_ms_ = 50;
  next_attempt_us_ = 0;  // the next tick connects
}

bool HiredisLink::request_overdue(uint64_t now) const {
  if (pending_.empty()) return false;
  const uint64_t since = std::max(pending_.front().sent_us, input_us_);
  return now > since && now - since > static_cast<uint64_t>(options_.request_timeout_ms) * 1000;
}

void HiredisLink::note_input(uint64_t now) {
  // Part of a large reply is buffered by hiredis's reader until the whole reply is there: a
  // change of its length between two ticks is input too.
  if (ac_ == nullptr || ac_->c.reader == nullptr) return;
  const size_t len = ac_->c.reader->len;
  if (len != input_seen_bytes_) {
    input_seen_bytes_ = len;
    input_us_ = now;
  }
}

void HiredisLink::take_ready_input() {
  // Bounded: a peer that keeps sending cannot hold the loop here.
  for (int i = 0; i < 64 && ac_ != nullptr; ++i) {
    const bool connecting = state_ == State::kConnecting;
    if (!connecting && state_ != State::kConnected) return;
    pollfd p{ac_->c.fd, static_cast<short>(connecting ? POLLOUT : POLLIN), 0};
    if (::poll(&p, 1, 0) <= 0 || p.revents == 0) return;
    if (connecting) {
      redisAsyncHandleWrite(ac_);  // completes the connect (or fails it)
    } else {
      redisAsyncHandleRead(ac_);
    }
  }
}

void HiredisLink::on_timer(uv_timer_t* t) {
  auto* self = static_cast<HiredisLink*>(t->data);
  uint64_t now = steady_us();
  switch (self->state_) {
    case State::kIdle:
      if (now >= self->next_attempt_us_) self->connect();
      break;
    case State::kConnecting:
      if (now - self->connect_started_us_ >
          static_cast<uint64_t>(self->options_.connect_timeout_ms) * 1000) {
        self->take_ready_input();
        if (self->state_ == State::kConnecting)
          self->fail(self->pump_ && !self->ac_
                         ? "TLS handshake with L2 timed out (is that port speaking TLS?)"
                         : "connect to L2 timed out");
      }
      break;
    case State::kConnected:
      // hiredis 0.14 buffers a reply of any announced size: bound it ourselves.
      if (self->ac_ != nullptr && self->ac_->c.reader != nullptr &&
          self->ac_->c.reader->len - self->ac_->c.reader->pos > self->options_.max_reply_bytes) {
        self->fail("L2 reply larger than " + std::to_string(self->options_.max_reply_bytes) +
                   " bytes");
        break;
      }
      self->note_input(now);
      if (self->request_overdue(now)) {
        self->take_ready_input();
        if (self->state_ == State::kConnected && self->request_overdue(now))
          self->fail("L2 request timed out");
      }
      break;
    case State::kStopped:
      break;
  }
}

void HiredisLink::on_reply(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* self = static_cast<HiredisLink*>(privdata);
  if (self->pending_.empty()) return;
  Pending p = std::move(self->pending_.front());
  self->pending_.pop_front();
  auto* r = static_cast<redisReply*>(reply);
  if (r == nullptr) {
    ++self->errors_;
    // hiredis fails the pending requests of a connection it lost before it reports the loss
    // (on_disconnect): the reason is the context's.
    if (ac != nullptr && ac->err != 0)
      self->last_error_ = std::string("L2 connection lost: ") + ac->errstr;
  } else {
    self->input_us_ = steady_us();
    self->latency_.record(self->input_us_ - p.sent_us);
  }
  if (p.done) p.done->on_reply(r);
}

void HiredisLink::on_push(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* self = static_cast<HiredisLink*>(privdata);
  if (self->push_fn_ != nullptr) self->push_fn_(self->push_ctx_, static_cast<redisReply*>(reply));
}

bool HiredisLink::send_push(std::span<const std::string_view> args) {
  if (state_ != State::kConnected || ac_ == nullptr) return false;
  format_command(scratch_, args);
  return redisAsyncFormattedCommand(ac_, on_push, this, scratch_.data(), scratch_.size()) ==
         REDIS_OK;
}

bool HiredisLink::send(std::span<const std::string_view> args, std::unique_ptr<Completion> done) {
  format_command(scratch_, args);
  return send_formatted(scratch_, std::move(done));
}

bool HiredisLink::send_formatted(std::string_view resp, std::unique_ptr<Completion> done) {
  if (state_ != State::kConnected || ac_ == nullptr ||
      redisAsyncFormattedCommand(ac_, on_reply, this, resp.data(), resp.size()) != REDIS_OK) {
    if (done) done->on_reply(nullptr);
    return false;
  }
  pending_.push_back(Pending{std::move(done), steady_us()});
  return true;
}

}  // namespace tiercache::sidecar
