// Blocked clients (see blocking.h): registration, ready keys, serving in FIFO order, deadlines
// on one timer, CLIENT UNBLOCK, resuming the queued requests of unblocked clients.
#include "l2/blocking.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "l2/client.h"
#include "l2/server.h"
#include "shared/resp/reply_writer.h"
#include "shared/util/numbers.h"

namespace tiercache::l2 {

TimeoutArg parse_timeout(std::string_view arg, int64_t now_ms) {
  auto v = util::parse_long_double(arg);
  if (!v) return {0, "ERR timeout is not a float or out of range"};
  long double ms = ceill(*v * 1000.0L);
  // Redis converts with a plain cast: what does not fit (inf, 1e300) comes out as LLONG_MIN on
  // x86-64, hence "negative".
  if (!std::isfinite(ms) || ms >= 9.2e18L || ms <= -9.2e18L) return {0, "ERR timeout is negative"};
  auto t = static_cast<int64_t>(ms);
  if (t < 0) return {0, "ERR timeout is negative"};
  if (t == 0) return {0, {}};
  return {t > INT64_MAX - now_ms ? INT64_MAX : now_ms + t, {}};
}

bool may_block(const CommandContext& ctx) {
  return !ctx.server.nested() && ctx.client.kind() != Client::Kind::kInternal;
}

void block_or_nil(CommandContext& ctx, std::span<const std::string_view> keys, BlockedOp op) {
  if (!may_block(ctx)) return resp::write_null_array(ctx.out);
  for (std::string_view key : keys)
    if (std::find(op.keys.begin(), op.keys.end(), key) == op.keys.end()) op.keys.emplace_back(key);
  op.spec = &ctx.spec;
  ctx.server.blocking().block(ctx.client, std::move(op));
}

Blocking::Blocking(Server& server)
    : server_(server),
      timer_(server.loop(), [](void* self) { static_cast<Blocking*>(self)->expire_deadlines(); },
             this) {}

Blocking::~Blocking() = default;

void Blocking::block(Client& c, BlockedOp op) {
  const uint64_t id = c.id;
  for (const std::string& k : op.keys) waiters_[DbKey{c.db, k}].push_back(id);
  if (op.deadline_ms != 0) deadlines_.emplace(op.deadline_ms, id);
  int64_t deadline = op.deadline_ms;
  blocked_.emplace(id, Blocked{&c, c.db, std::move(op)});
  c.blocked = true;
  c.suspend();
  if (deadline != 0 && (timer_due_ms_ == 0 || deadline < timer_due_ms_)) arm_timer();
}

void Blocking::unblock_client(uint64_t id) {
  auto it = blocked_.find(id);
  if (it == blocked_.end()) return;
  Blocked& b = it->second;
  for (const std::string& k : b.op.keys) {
    auto w = waiters_.find(DbKey{b.db, k});
    if (w == waiters_.end()) continue;
    w->second.remove(id);
    if (w->second.empty()) waiters_.erase(w);
  }
  if (b.op.deadline_ms != 0) deadlines_.erase({b.op.deadline_ms, id});
  b.client->blocked = false;
  unblocked_.push_back(id);
  server_.queue_write(b.client);
  blocked_.erase(it);
}

void Blocking::forget(Client& c) {
  unblock_client(c.id);
  std::erase(unblocked_, c.id);
}

bool Blocking::unblock(uint64_t client_id, bool error) {
  auto it = blocked_.find(client_id);
  if (it == blocked_.end()) return false;
  Client* c = it->second.client;
  if (error) {
    server_.stats().total_error_replies++;
    resp::write_error(c->out, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
  } else {
    resp::write_null_array(c->out);  // as a timeout
  }
  unblock_client(client_id);
  return true;
}

void Blocking::resume_unblocked() { server_.resume_clients(unblocked_); }  // may block again

void Blocking::on_key_modified(int db, std::string_view key, ModifiedBy) {
  if (waiters_.empty()) return;
  auto probe = std::pair<int, std::string_view>(db, key);
  if (waiters_.find(probe) == waiters_.end() || ready_set_.find(probe) != ready_set_.end())
    return;
  ready_.emplace_back(db, std::string(key));
  ready_set_.emplace(db, std::string(key));
}

void Blocking::serve_ready_keys() {
  while (!ready_.empty()) {
    std::vector<DbKey> batch;
    batch.swap(ready_);
    for (const DbKey& key : batch) {
      ready_set_.erase(key);  // serving may make it ready again (a BLMOVE onto itself)
      serve_key(key);
    }
  }
}

void Blocking::serve_key(const DbKey& key) {
  auto w = waiters_.find(key);
  if (w == waiters_.end()) return;
  Keyspace& ks = server_.keyspace();
  server_.update_clock();
  // The clients blocked on this key when it is served, first-blocked first. Each one served
  // leaves the list (and may block again later, behind the others).
  std::vector<uint64_t> queue(w->second.begin(), w->second.end());
  tracking::Tracker& tracker = server_.tracker();
  const uint64_t prev_modifier = tracker.modifier();
  for (uint64_t id : queue) {
    Entry* e = ks.lookup_write(key.first, key.second, server_.now_ms());
    if (e == nullptr) break;  // emptied and deleted
    auto it = blocked_.find(id);
    if (it == blocked_.end()) continue;
    Blocked& b = it->second;
    if (e->type != static_cast<uint8_t>(b.op.type)) continue;  // waits for another type
    Client& c = *b.client;
    // The pop runs as the receiver's own command (Redis sets current_client to it): tracking
    // sees a write by that client, WATCH sees its keys touched.
    tracker.set_current(id);
    tracker.set_modifier(id);
    CommandContext ctx{server_, c, {}, c.out, server_.now_ms(), *b.op.spec};
    b.op.serve(ctx, b.op, key.second);
    server_.touch_key(key.first, key.second);
    if (b.op.has_target) server_.touch_key(key.first, b.op.target);
    tracker.set_modifier(prev_modifier);
    tracker.set_current(0);
    unblock_client(id);
  }
}

void Blocking::arm_timer() {
  if (deadlines_.empty()) {
    timer_.stop();
    timer_due_ms_ = 0;
    return;
  }
  int64_t due = deadlines_.begin()->first;
  server_.update_clock();
  int64_t wait = due - server_.now_ms();
  // Redis times out a client once now > deadline: one ms past it.
  uint64_t delay = wait < 0 ? 0 : static_cast<uint64_t>(wait) + 1;
  timer_due_ms_ = due;
  timer_.start(delay);
}

void Blocking::expire_deadlines() {
  timer_due_ms_ = 0;
  server_.update_clock();
  const int64_t now = server_.now_ms();
  while (!deadlines_.empty() && deadlines_.begin()->first < now) {
    uint64_t id = deadlines_.begin()->second;
    auto it = blocked_.find(id);
    if (it == blocked_.end()) {  // cannot happen: unblock_client erases both
      deadlines_.erase(deadlines_.begin());
      continue;
    }
    resp::write_null_array(it->second.client->out);  // every blocking type times out with *-1
    unblock_client(id);
  }
  arm_timer();
}

void Blocking::close() { timer_.close(); }

}  // namespace tiercache::l2
