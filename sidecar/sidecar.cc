// tiercache-sidecar core (see sidecar.h): connections, dispatch, L1 reads with single flight and
// fill guard, batched writes committed with their invalidation, passthrough, bus events.
#include "sidecar/sidecar.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <random>

#include "shared/resp/reply_writer.h"
#include "shared/util/numbers.h"
#include "sidecar/state.h"

namespace tiercache::sidecar {

using command::CommandSpec;
using command::CommandTable;

void guard_key(std::string& out, int db, std::string_view key) {
  out.clear();
  out.append(reinterpret_cast<const char*>(&db), sizeof db);
  out.append(key);
}

namespace {

void op_callback(void* ctx, const redisReply* r, uint64_t tag) {
  auto* op = reinterpret_cast<Op*>(tag);
  if (op == nullptr) return;  // replies nobody waits for (SELECT, MULTI, QUEUED, PUBLISH)
  op->on_reply(*static_cast<Sidecar*>(ctx), r);
  delete op;
}

// Writes `r` into the client's reply slot (or the L2 error) and completes it.
void answer(Sidecar& s, uint64_t conn_id, uint64_t ticket, const redisReply* r) {
  net::Connection* c = s.connection(conn_id);
  if (c == nullptr) return;
  std::string& out = c->slot(ticket);
  if (r == nullptr)
    s.write_l2_error(out);
  else
    write_reply(out, r);
  c->complete(ticket);
}

struct PassthroughOp : Op {
  uint64_t conn_id, ticket;
  PassthroughOp(uint64_t c, uint64_t t) : conn_id(c), ticket(t) {}
  void on_reply(Sidecar& s, const redisReply* r) override { answer(s, conn_id, ticket, r); }
};

struct FlightGetOp : Op {
  Flight* f;
  explicit FlightGetOp(Flight* fl) : f(fl) {}
  void on_reply(Sidecar&, const redisReply* r) override {
    if (r == nullptr)
      f->failed = true;
    else if (r->type == REDIS_REPLY_NIL)
      f->nil = true;
    else if (r->type == REDIS_REPLY_STRING)
      f->value.assign(r->str, r->len);
    else if (r->type == REDIS_REPLY_ERROR)
      f->error.assign(r->str, r->len);
    else
      f->error = "ERR tiercache: unexpected reply from L2 to GET";
  }
};

// L1 TTL for a value whose L2 PTTL is `pttl`: capped by l1-max-ttl-ms; 0 = do not cache.
uint64_t l1_ttl(const redisReply* r, int64_t cap_ms) {
  if (r == nullptr || r->type != REDIS_REPLY_INTEGER) return 0;
  if (r->integer == -1) return static_cast<uint64_t>(cap_ms);  // no TTL at L2: the cap
  if (r->integer <= 0) return 0;                               // gone (-2) or about to expire
  return static_cast<uint64_t>(r->integer < cap_ms ? r->integer : cap_ms);
}

struct FlightTtlOp : Op {
  Flight* f;
  explicit FlightTtlOp(Flight* fl) : f(fl) {}
  void on_reply(Sidecar& s, const redisReply* r) override {
    uint64_t ttl = l1_ttl(r, s.config().l1_max_ttl_ms);
    if (!f->failed && !f->nil && f->error.empty() && ttl > 0) {
      if (s.fill_allowed(f->db, f->key, f->stamp)) {
        if (s.l1().set(static_cast<uint32_t>(f->db), f->key, f->value, ttl)) s.stats().fills++;
      } else {
        s.stats().fills_discarded++;
      }
    }
    s.forget_flight(f);  // before answering: an answer may let a paused client issue a new GET
    for (auto [conn_id, ticket] : f->waiters) {
      net::Connection* c = s.connection(conn_id);
      if (c == nullptr) continue;
      std::string& out = c->slot(ticket);
      if (f->failed)
        s.write_l2_error(out);
      else if (!f->error.empty())
        resp::write_error(out, f->error);
      else if (f->nil)
        resp::write_null(out);
      else
        resp::write_bulk(out, f->value);
      c->complete(ticket);
    }
    s.fetch_finished(f->db, f->key);
    delete f;
  }
};

// MGET with some keys missing from L1: one MGET for the misses plus a PTTL each, pipelined.
struct MgetState {
  uint64_t conn_id, ticket;
  int db;
  uint64_t stamp;
  std::vector<std::string> keys;  // all requested keys
  std::vector<int> state;         // per key: 1 hit (value set), 0 miss, -1 nil
  std::vector<std::string> values;
  std::vector<size_t> missing;  // indexes fetched from L2
  std::vector<uint64_t> ttls;
  bool failed = false;
  std::string error;
  size_t ttl_replies = 0;
};

struct MgetFetchOp : Op {
  MgetState* m;
  explicit MgetFetchOp(MgetState* st) : m(st) {}
  void on_reply(Sidecar&, const redisReply* r) override {
    if (r == nullptr) {
      m->failed = true;
    } else if (r->type == REDIS_REPLY_ERROR) {
      m->error.assign(r->str, r->len);
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements != m->missing.size()) {
      m->error = "ERR tiercache: unexpected reply from L2 to MGET";
    } else {
      for (size_t i = 0; i < r->elements; ++i) {
        size_t idx = m->missing[i];
        const redisReply* e = r->element[i];
        if (e->type == REDIS_REPLY_STRING) {
          m->values[idx].assign(e->str, e->len);
          m->state[idx] = 1;
        } else {
          m->state[idx] = -1;
        }
      }
    }
  }
};

struct MgetTtlOp : Op {
  MgetState* m;
  size_t i;
  MgetTtlOp(MgetState* st, size_t idx) : m(st), i(idx) {}
  void on_reply(Sidecar& s, const redisReply* r) override {
    m->ttls[i] = l1_ttl(r, s.config().l1_max_ttl_ms);
    if (++m->ttl_replies < m->missing.size()) return;
    bool ok = !m->failed && m->error.empty();
    for (size_t k = 0; k < m->missing.size(); ++k) {
      size_t idx = m->missing[k];
      if (ok && m->state[idx] == 1 && m->ttls[k] > 0) {
        if (s.fill_allowed(m->db, m->keys[idx], m->stamp)) {
          if (s.l1().set(static_cast<uint32_t>(m->db), m->keys[idx], m->values[idx], m->ttls[k]))
            s.stats().fills++;
        } else {
          s.stats().fills_discarded++;
        }
      }
      s.fetch_finished(m->db, m->keys[idx]);
    }
    if (net::Connection* c = s.connection(m->conn_id)) {
      std::string& out = c->slot(m->ticket);
      if (m->failed) {
        s.write_l2_error(out);
      } else if (!m->error.empty()) {
        resp::write_error(out, m->error);
      } else {
        resp::write_array_header(out, static_cast<int64_t>(m->keys.size()));
        for (size_t k = 0; k < m->keys.size(); ++k) {
          if (m->state[k] == 1)
            resp::write_bulk(out, m->values[k]);
          else
            resp::write_null(out);
        }
      }
      c->complete(m->ticket);
    }
    delete m;
  }
};

}  // namespace

// ---- write batches -------------------------------------------------------------------------

struct Sidecar::BatchItem {
  uint64_t conn_id;
  uint64_t ticket;
  int db;
  std::string wire;  // the command, RESP-formatted
};

namespace {

void invalidate_groups(Sidecar& s, const std::vector<invalidation::Group>& groups) {
  for (const auto& g : groups) {
    if (g.flush) {
      s.invalidate_db(g.db);
    } else {
      for (const auto& k : g.keys) s.invalidate_key(static_cast<int>(g.db), k);
    }
  }
}

struct BatchExecOp : Op {
  std::vector<Sidecar::BatchItem>* items;  // owned
  std::vector<invalidation::Group> groups;
  uint64_t seq;
  ~BatchExecOp() override;
  void on_reply(Sidecar& s, const redisReply* r) override {
    // Whatever happened, drop the keys again before anyone sees the reply: a fill that raced
    // with the write must not survive it.
    invalidate_groups(s, groups);
    bool ok = r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == items->size() + 1;
    if (!ok) s.bus().forget(seq);
    for (size_t i = 0; i < items->size(); ++i) {
      auto& it = (*items)[i];
      net::Connection* c = s.connection(it.conn_id);
      if (c == nullptr) continue;
      std::string& out = c->slot(it.ticket);
      if (ok) {
        write_reply(out, r->element[i]);
      } else if (r == nullptr) {
        s.write_l2_error(out);
      } else if (r->type == REDIS_REPLY_ERROR) {
        resp::write_error(out, std::string_view(r->str, r->len));
      } else {
        resp::write_error(out, "ERR tiercache: L2 did not commit the write");
      }
      c->complete(it.ticket);
    }
  }
};

}  // namespace

// Defined out of line: BatchItem is complete here.
BatchExecOp::~BatchExecOp() { delete items; }

bool Sidecar::write_groups(int db, const CommandSpec& spec, std::span<const std::string_view> args,
                           std::vector<invalidation::Group>* groups) {
  if (spec.flags & command::kFlush) {
    invalidation::Group g;
    g.flush = true;
    g.db = spec.name == "flushall" ? invalidation::kAllDbs : static_cast<uint32_t>(db);
    groups->push_back(std::move(g));
    return true;
  }
  std::vector<int> pos;
  CommandTable::key_positions(spec, args, &pos);
  if (pos.empty()) return false;
  invalidation::Group g;
  g.db = static_cast<uint32_t>(db);
  for (int p : pos) g.keys.emplace_back(args[p]);
  groups->push_back(std::move(g));
  return true;
}

static void merge_groups(std::vector<invalidation::Group>& into,
                         std::vector<invalidation::Group>&& from) {
  for (auto& g : from) {
    bool merged = false;
    for (auto& h : into) {
      if (h.db == g.db && h.flush == g.flush && !g.flush) {
        for (auto& k : g.keys) h.keys.push_back(std::move(k));
        merged = true;
        break;
      }
    }
    if (!merged) into.push_back(std::move(g));
  }
}

void Sidecar::cmd_write(net::Connection& c, ClientState& st, const CommandSpec& spec,
                        std::span<const std::string_view> args) {
  stats_.writes++;
  std::vector<invalidation::Group> groups;
  write_groups(st.db, spec, args, &groups);
  invalidate_groups(*this, groups);  // read-your-writes on this host: drop before sending
  if (batch_ != nullptr && !batch_->empty() && batch_->front().db != st.db) flush_batch();
  if (batch_ == nullptr) batch_ = new std::vector<BatchItem>();
  BatchItem item{c.id(), c.defer(), st.db, {}};
  format_command(item.wire, args);
  batch_->push_back(std::move(item));
  merge_groups(batch_groups_, std::move(groups));
  if (batch_->size() >= 256) flush_batch();
}

void Sidecar::flush_batch() {
  if (batch_ == nullptr || batch_->empty()) return;
  std::vector<BatchItem>* items = batch_;
  batch_ = nullptr;
  std::vector<invalidation::Group> groups;
  groups.swap(batch_groups_);
  if (!l2_->connected()) {
    invalidate_groups(*this, groups);
    for (auto& it : *items) {
      if (net::Connection* c = connection(it.conn_id)) {
        write_l2_error(c->slot(it.ticket));
        c->complete(it.ticket);
      }
    }
    delete items;
    return;
  }
  int db = items->front().db;
  if (upstream_db_ != db) {
    std::string sel = std::to_string(db);
    std::string_view a[] = {"SELECT", sel};
    l2_->send(a, op_callback, this, 0);
    upstream_db_ = db;
  }
  invalidation::Message m;
  m.origin = origin_;
  m.seq = ++seq_;
  m.sent_at_us = wall_us();
  size_t nkeys = 0;
  for (const auto& g : groups) nkeys += g.keys.size();
  m.groups = groups;
  msg_scratch_ = invalidation::encode(m);
  auto* op = new BatchExecOp();
  op->items = items;
  op->groups = std::move(groups);
  op->seq = m.seq;
  std::string_view multi[] = {"MULTI"};
  l2_->send(multi, op_callback, this, 0);
  for (auto& it : *items) l2_->send_formatted(it.wire, op_callback, this, 0);
  std::string_view pub[] = {"PUBLISH", config_.channel, msg_scratch_};
  l2_->send(pub, op_callback, this, 0);
  std::string_view exec[] = {"EXEC"};
  l2_->send(exec, op_callback, this, reinterpret_cast<uint64_t>(op));
  bus_->expect(m.seq, now_us());
  stats_.write_batches++;
  stats_.invalidation_messages_sent++;
  stats_.invalidated_keys_sent += nkeys;
}

void Sidecar::publish_heartbeat() {
  if (!l2_->connected() || !bus_->healthy()) return;
  flush_batch();
  invalidation::Message m;
  m.origin = origin_;
  m.seq = ++seq_;
  m.sent_at_us = wall_us();
  msg_scratch_ = invalidation::encode(m);
  std::string_view pub[] = {"PUBLISH", config_.channel, msg_scratch_};
  if (l2_->send(pub, op_callback, this, 0)) bus_->expect(m.seq, now_us());
}

bool Sidecar::send(int db, std::span<const std::string_view> args, Op* op) {
  flush_batch();  // request order on the wire: earlier writes first
  if (l2_->connected() && upstream_db_ != db) {
    std::string sel = std::to_string(db);
    std::string_view a[] = {"SELECT", sel};
    l2_->send(a, op_callback, this, 0);
    upstream_db_ = db;
  }
  if (l2_->send(args, op_callback, this, reinterpret_cast<uint64_t>(op))) return true;
  op->on_reply(*this, nullptr);
  delete op;
  return false;
}

void Sidecar::write_l2_error(std::string& out) {
  stats_.l2_errors++;
  resp::write_error(out, "ERR tiercache: L2 unavailable (" + l2_->last_error() + ")");
}

// ---- reads ---------------------------------------------------------------------------------

void Sidecar::cmd_get(net::Connection& c, ClientState& st, std::string_view key) {
  if (l1_serving()) {
    if (l1_->get(static_cast<uint32_t>(st.db), key, &value_scratch_, nullptr) ==
        l1::GetResult::kHit) {
      stats_.l1_hits++;
      resp::write_bulk(c.reply(), value_scratch_);
      return;
    }
    stats_.l1_misses++;
  } else {
    stats_.l1_bypassed++;
  }
  uint64_t ticket = c.defer();
  guard_key(key_scratch_, st.db, key);
  auto it = flights_.find(key_scratch_);
  if (it != flights_.end()) {
    stats_.coalesced_misses++;
    it->second->waiters.emplace_back(c.id(), ticket);
    return;
  }
  start_flight(st.db, key, c.id(), ticket);
}

void Sidecar::start_flight(int db, std::string_view key, uint64_t conn_id, uint64_t ticket) {
  auto* f = new Flight();
  f->db = db;
  f->key = std::string(key);
  f->stamp = guard_stamp();
  f->waiters.emplace_back(conn_id, ticket);
  guard_key(key_scratch_, db, key);
  flights_.emplace(key_scratch_, f);
  fetch_started(db, key);
  stats_.l2_fetches++;
  std::string_view get[] = {"GET", f->key};
  send(db, get, new FlightGetOp(f));
  std::string_view pttl[] = {"PTTL", f->key};
  send(db, pttl, new FlightTtlOp(f));  // completes the flight (also on failure)
}

void Sidecar::cmd_mget(net::Connection& c, ClientState& st,
                       std::span<const std::string_view> args) {
  size_t n = args.size() - 1;
  bool serving = l1_serving();
  if (mget_values_.size() < n) mget_values_.resize(n);
  mget_hit_.assign(n, 0);
  bool all_hit = true;
  for (size_t i = 0; i < n; ++i) {  // one L1 lookup per key, into reused buffers
    bool hit = serving && l1_->get(static_cast<uint32_t>(st.db), args[i + 1], &mget_values_[i],
                                   nullptr) == l1::GetResult::kHit;
    mget_hit_[i] = hit ? 1 : 0;
    if (hit)
      stats_.l1_hits++;
    else if (serving)
      stats_.l1_misses++;
    else
      stats_.l1_bypassed++;
    all_hit &= hit;
  }
  if (all_hit) {
    std::string& out = c.reply();
    resp::write_array_header(out, static_cast<int64_t>(n));
    for (size_t i = 0; i < n; ++i) resp::write_bulk(out, mget_values_[i]);
    return;
  }
  auto* m = new MgetState();
  m->db = st.db;
  m->stamp = guard_stamp();
  m->keys.reserve(n);
  m->values.resize(n);
  m->state.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    m->keys.emplace_back(args[i + 1]);
    if (mget_hit_[i]) {
      m->values[i] = mget_values_[i];
      m->state[i] = 1;
    } else {
      m->missing.push_back(i);
    }
  }
  m->conn_id = c.id();
  m->ticket = c.defer();
  m->ttls.assign(m->missing.size(), 0);
  std::vector<std::string_view> fetch;
  fetch.push_back("MGET");
  for (size_t idx : m->missing) {
    fetch.push_back(m->keys[idx]);
    fetch_started(st.db, m->keys[idx]);
  }
  stats_.l2_fetches += m->missing.size();
  send(st.db, fetch, new MgetFetchOp(m));
  // The last PTTL's op completes and frees m, possibly inside send() when L2 is down: read
  // the count first and never touch m after the last send.
  const size_t nmissing = m->missing.size();
  const int db = st.db;
  for (size_t k = 0; k < nmissing; ++k) {
    std::string_view pttl[] = {"PTTL", m->keys[m->missing[k]]};
    send(db, pttl, new MgetTtlOp(m, k));
  }
}

void Sidecar::cmd_exists(net::Connection& c, ClientState& st,
                         std::span<const std::string_view> args) {
  if (l1_serving()) {
    int64_t n = 0;
    bool all = true;
    for (size_t i = 1; i < args.size() && all; ++i) {
      if (l1_->get(static_cast<uint32_t>(st.db), args[i], &value_scratch_, nullptr) ==
          l1::GetResult::kHit)
        ++n;
      else
        all = false;
    }
    if (all) {
      stats_.l1_hits++;
      resp::write_integer(c.reply(), n);
      return;
    }
  }
  passthrough(c, st, args);
}

void Sidecar::passthrough(net::Connection& c, ClientState& st,
                          std::span<const std::string_view> args) {
  stats_.passthrough++;
  send(st.db, args, new PassthroughOp(c.id(), c.defer()));
}

// ---- fill guard ----------------------------------------------------------------------------

bool Sidecar::fill_allowed(int db, std::string_view key, uint64_t stamp) {
  if (!l1_serving() || all_flushed_at_ > stamp) return false;
  if (static_cast<size_t>(db) < db_flushed_at_.size() && db_flushed_at_[db] > stamp) return false;
  guard_key(key_scratch_, db, key);  // the reused buffer: no allocation per completed fetch
  auto it = guards_.find(key_scratch_);
  return it == guards_.end() || it->second.invalidated_at <= stamp;
}

void Sidecar::fetch_started(int db, std::string_view key) {
  guard_key(key_scratch_, db, key);
  guards_[key_scratch_].fetches++;
}

void Sidecar::fetch_finished(int db, std::string_view key) {
  guard_key(key_scratch_, db, key);
  auto it = guards_.find(key_scratch_);
  if (it != guards_.end() && --it->second.fetches == 0) guards_.erase(it);
}

void Sidecar::forget_flight(Flight* f) {
  if (f->detached) return;
  guard_key(key_scratch_, f->db, f->key);
  auto it = flights_.find(key_scratch_);
  if (it != flights_.end() && it->second == f) flights_.erase(it);
}

void Sidecar::invalidate_key(int db, std::string_view key) {
  l1_->del(static_cast<uint32_t>(db), key);
  ++inv_seq_;
  if (guards_.empty() && flights_.empty()) return;
  guard_key(key_scratch_, db, key);
  if (auto it = guards_.find(key_scratch_); it != guards_.end())
    it->second.invalidated_at = inv_seq_;
  if (auto it = flights_.find(key_scratch_); it != flights_.end()) {
    it->second->detached = true;  // later readers start a fresh fetch
    flights_.erase(it);
  }
}

void Sidecar::invalidate_db(uint32_t db) {
  ++inv_seq_;
  stats_.l1_flushes++;
  if (db == invalidation::kAllDbs) {
    l1_->flush_all();
    all_flushed_at_ = inv_seq_;
  } else {
    l1_->flush_db(db);
    if (db_flushed_at_.size() <= db) db_flushed_at_.resize(db + 1, 0);
    db_flushed_at_[db] = inv_seq_;
  }
  for (auto it = flights_.begin(); it != flights_.end();) {
    if (db == invalidation::kAllDbs || it->second->db == static_cast<int>(db)) {
      it->second->detached = true;
      it = flights_.erase(it);
    } else {
      ++it;
    }
  }
}

// ---- bus events ----------------------------------------------------------------------------

void Sidecar::on_invalidation(const invalidation::Message& m) {
  for (const auto& g : m.groups) {
    if (g.flush) {
      invalidate_db(g.db);
    } else {
      for (const auto& k : g.keys) invalidate_key(static_cast<int>(g.db), k);
      stats_.invalidated_keys_received += g.keys.size();
    }
  }
}

void Sidecar::on_bus_unhealthy(const std::string&) { invalidate_db(invalidation::kAllDbs); }

void Sidecar::on_bus_healthy() {
  // Direct readers trust L1 once one of our messages comes back (on_bus_current): send one now
  // rather than at the next heartbeat.
  publish_heartbeat();
}

void Sidecar::on_bus_current(uint64_t sent_ms) { l1_->mark_current(sent_ms); }

}  // namespace tiercache::sidecar
