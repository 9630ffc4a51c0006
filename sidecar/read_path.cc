// The read path: GET, MGET, EXISTS and STRLEN served from L1 when the bus is healthy (or in
// fail-safe, fail_safe.cc); misses fetched from the L2 with single flight per (db, key) (one
// GET + PTTL in flight, later readers join), MGET split into L1 hits and one L2 MGET for the
// rest, EXISTS into L1 answers and one EXISTS per unknown key. A fetched value goes into L1
// only through the fill guard: not if the key (its db, or everything) was invalidated
// meanwhile; a key the L2 said is absent (PTTL -2, EXISTS 0) goes in as a negative entry
// (--l1-negative) through the same guard. Also where invalidations land (local writes, the bus).
#include "shared/resp/reply_writer.h"
#include "sidecar/sidecar.h"
#include "sidecar/state.h"

namespace tiercache::sidecar {

void guard_key(std::string& out, int db, std::string_view key) {
  out.clear();
  out.append(reinterpret_cast<const char*>(&db), sizeof db);
  out.append(key);
}

namespace {

// L1 TTL for a value whose L2 PTTL is `pttl`: capped by l1-max-ttl-ms; 0 = do not cache.
uint64_t l1_ttl(const redisReply* r, int64_t cap_ms) {
  if (r == nullptr || r->type != REDIS_REPLY_INTEGER) return 0;
  if (r->integer == -1) return static_cast<uint64_t>(cap_ms);  // no TTL at L2: the cap
  if (r->integer <= 0) return 0;                               // gone (-2) or about to expire
  return static_cast<uint64_t>(r->integer < cap_ms ? r->integer : cap_ms);
}

// An operation in flight by id (nullptr once ended), and taking it over (ending it).
template <class T>
T* find_op(std::unordered_map<uint64_t, std::unique_ptr<T>>& ops, uint64_t id) {
  auto it = ops.find(id);
  return it == ops.end() ? nullptr : it->second.get();
}
template <class T>
std::unique_ptr<T> take_op(std::unordered_map<uint64_t, std::unique_ptr<T>>& ops, uint64_t id) {
  auto it = ops.find(id);
  if (it == ops.end()) return nullptr;
  std::unique_ptr<T> op = std::move(it->second);
  ops.erase(it);
  return op;
}

// True for a PTTL reply saying the key does not exist.
bool pttl_gone(const redisReply* r) {
  return r != nullptr && r->type == REDIS_REPLY_INTEGER && r->integer == -2;
}

// Puts a fetched value into L1 if the guard allows it.
void fill(Sidecar& s, int db, const std::string& key, const std::string& value, uint64_t ttl,
          uint64_t stamp) {
  if (ttl == 0) return;
  if (s.fill_allowed(db, key, stamp)) {
    if (s.l1().set(static_cast<uint32_t>(db), key, value, ttl)) s.stats().fills++;
  } else {
    s.stats().fills_discarded++;
  }
}

// Puts a negative entry for a key the L2 said is absent, through the same guard, for the TTL
// cap (absence has no TTL at the L2: a write of the key is what ends it, by invalidation).
void fill_absent(Sidecar& s, int db, const std::string& key, uint64_t stamp) {
  if (!s.config().l1_negative) return;
  if (s.fill_allowed(db, key, stamp)) {
    if (s.l1().set_absent(static_cast<uint32_t>(db), key,
                          static_cast<uint64_t>(s.config().l1_max_ttl_ms)))
      s.stats().negative_fills++;
  } else {
    s.stats().fills_discarded++;
  }
}

struct FlightGetOp final : Op {
  uint64_t id;
  FlightGetOp(Sidecar& s, uint64_t flight_id) : Op(s), id(flight_id) {}
  void on_reply(const redisReply* r) override {
    Flight* f = s.flight(id);
    if (f == nullptr) return;
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

// The flight's PTTL: fills L1, answers every waiter, ends the flight (also on failure).
struct FlightTtlOp final : Op {
  uint64_t id;
  FlightTtlOp(Sidecar& s, uint64_t flight_id) : Op(s), id(flight_id) {}
  void on_reply(const redisReply* r) override {
    // Ended (not joinable) before answering: an answer may let a paused client issue a new GET.
    std::unique_ptr<Flight> f = s.take_flight(id);
    if (f == nullptr) return;
    // The guard entry (fetch_started) must still exist here: it holds the key's invalidation.
    if (!f->failed && !f->nil && f->error.empty())
      fill(s, f->db, f->key, f->value, l1_ttl(r, s.config().l1_max_ttl_ms), f->stamp);
    else if (!f->failed && f->nil && pttl_gone(r))
      fill_absent(s, f->db, f->key, f->stamp);
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
  }
};

struct MgetFetchOp final : Op {
  uint64_t id;
  MgetFetchOp(Sidecar& s, uint64_t mget_id) : Op(s), id(mget_id) {}
  void on_reply(const redisReply* r) override {
    MgetState* m = s.mget(id);
    if (m == nullptr) return;
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

// One PTTL of an MGET's misses; the last one fills L1 and answers.
struct MgetTtlOp final : Op {
  uint64_t id;
  size_t i;
  MgetTtlOp(Sidecar& s, uint64_t mget_id, size_t idx) : Op(s), id(mget_id), i(idx) {}
  void on_reply(const redisReply* r) override {
    MgetState* pending = s.mget(id);
    if (pending == nullptr) return;
    pending->ttls[i] = l1_ttl(r, s.config().l1_max_ttl_ms);
    pending->gone[i] = pttl_gone(r) ? 1 : 0;
    if (++pending->ttl_replies < pending->missing.size()) return;
    std::unique_ptr<MgetState> m = s.take_mget(id);
    bool ok = !m->failed && m->error.empty();
    for (size_t k = 0; k < m->missing.size(); ++k) {
      size_t idx = m->missing[k];
      if (ok && m->state[idx] == 1)
        fill(s, m->db, m->keys[idx], m->values[idx], m->ttls[k], m->stamp);
      else if (ok && m->state[idx] == -1 && m->gone[k])  // nil, and not another type
        fill_absent(s, m->db, m->keys[idx], m->stamp);
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
  }
};

// One EXISTS of an EXISTS's unknown keys; the last one fills negatives and answers.
struct ExistsOp final : Op {
  uint64_t id;
  size_t i;
  ExistsOp(Sidecar& s, uint64_t exists_id, size_t idx) : Op(s), id(exists_id), i(idx) {}
  void on_reply(const redisReply* r) override {
    ExistsState* pending = s.exists_op(id);
    if (pending == nullptr) return;
    if (r == nullptr)
      pending->failed = true;
    else if (r->type == REDIS_REPLY_ERROR)
      pending->error.assign(r->str, r->len);
    else if (r->type != REDIS_REPLY_INTEGER)
      pending->error = "ERR tiercache: unexpected reply from L2 to EXISTS";
    else if (r->integer == 0)
      pending->absent[i] = 1;
    else
      pending->count += r->integer;
    if (++pending->replies < pending->keys.size()) return;
    std::unique_ptr<ExistsState> e = s.take_exists(id);
    const bool ok = !e->failed && e->error.empty();
    for (size_t k = 0; k < e->keys.size(); ++k) {
      if (ok && e->absent[k]) fill_absent(s, e->db, e->keys[k], e->stamp);
      s.fetch_finished(e->db, e->keys[k]);
    }
    net::Connection* c = s.connection(e->conn_id);
    if (c == nullptr) return;
    std::string& out = c->slot(e->ticket);
    if (e->failed)
      s.write_l2_error(out);
    else if (!e->error.empty())
      resp::write_error(out, e->error);
    else
      resp::write_integer(out, e->count);
    c->complete(e->ticket);
  }
};

}  // namespace

// ---- reads ---------------------------------------------------------------------------------

l1::GetResult Sidecar::l1_lookup(L1Use use, int db, std::string_view key, std::string* value) {
  if (use == L1Use::kOff) {
    stats_.l1_bypassed++;
    return l1::GetResult::kMiss;
  }
  const l1::GetResult r = l1_->get(static_cast<uint32_t>(db), key, value, nullptr);
  if (r == l1::GetResult::kMiss) {
    stats_.l1_misses++;
    return r;
  }
  stats_.l1_hits++;
  if (r == l1::GetResult::kAbsent) stats_.l1_negative_hits++;
  if (use == L1Use::kStale) stats_.stale_answers++;
  return r;
}

void Sidecar::cmd_get(net::Connection& c, ClientState& st, std::string_view key) {
  switch (l1_lookup(l1_use(), st.db, key, &value_scratch_)) {
    case l1::GetResult::kHit:
      resp::write_bulk(c.reply(), value_scratch_);
      return;
    case l1::GetResult::kAbsent:
      resp::write_null(c.reply());
      return;
    case l1::GetResult::kMiss:
      break;
  }
  uint64_t ticket = c.defer();
  guard_key(key_scratch_, st.db, key);
  auto it = joinable_.find(key_scratch_);
  if (it != joinable_.end()) {
    stats_.coalesced_misses++;
    flights_.at(it->second)->waiters.emplace_back(c.id(), ticket);
    return;
  }
  start_flight(st.db, key, c.id(), ticket);
}

void Sidecar::start_flight(int db, std::string_view key, uint64_t conn_id, uint64_t ticket) {
  auto f = std::make_unique<Flight>();
  const uint64_t id = next_op_id_++;
  f->id = id;
  f->db = db;
  f->key = std::string(key);
  f->stamp = guard_stamp();
  f->waiters.emplace_back(conn_id, ticket);
  guard_key(key_scratch_, db, key);
  joinable_.emplace(key_scratch_, id);
  fetch_started(db, key);
  stats_.l2_fetches++;
  std::string_view get[] = {"GET", f->key};
  std::string_view pttl[] = {"PTTL", f->key};
  flights_.emplace(id, std::move(f));
  send(db, get, std::make_unique<FlightGetOp>(*this, id));
  send(db, pttl, std::make_unique<FlightTtlOp>(*this, id));  // ends the flight
}

Flight* Sidecar::flight(uint64_t id) { return find_op(flights_, id); }

std::unique_ptr<Flight> Sidecar::take_flight(uint64_t id) {
  auto it = flights_.find(id);
  if (it == flights_.end()) return nullptr;
  std::unique_ptr<Flight> f = std::move(it->second);
  flights_.erase(it);
  guard_key(key_scratch_, f->db, f->key);
  if (auto j = joinable_.find(key_scratch_); j != joinable_.end() && j->second == id)
    joinable_.erase(j);
  return f;  // the caller ends its fetch (fetch_finished) once it has filled
}

MgetState* Sidecar::mget(uint64_t id) { return find_op(mgets_, id); }
std::unique_ptr<MgetState> Sidecar::take_mget(uint64_t id) { return take_op(mgets_, id); }

void Sidecar::cmd_mget(net::Connection& c, ClientState& st,
                       std::span<const std::string_view> args) {
  size_t n = args.size() - 1;
  const L1Use use = l1_use();
  if (mget_values_.size() < n) mget_values_.resize(n);
  mget_hit_.assign(n, 0);  // per key: 0 miss, 1 value, 2 known absent
  bool all_hit = true;
  for (size_t i = 0; i < n; ++i) {  // one L1 lookup per key, into reused buffers
    const l1::GetResult r = l1_lookup(use, st.db, args[i + 1], &mget_values_[i]);
    mget_hit_[i] = r == l1::GetResult::kHit ? 1 : r == l1::GetResult::kAbsent ? 2 : 0;
    all_hit &= r != l1::GetResult::kMiss;
  }
  if (all_hit) {
    std::string& out = c.reply();
    resp::write_array_header(out, static_cast<int64_t>(n));
    for (size_t i = 0; i < n; ++i) {
      if (mget_hit_[i] == 1)
        resp::write_bulk(out, mget_values_[i]);
      else
        resp::write_null(out);
    }
    return;
  }
  auto owned = std::make_unique<MgetState>();
  MgetState* m = owned.get();
  const uint64_t id = next_op_id_++;
  m->id = id;
  m->db = st.db;
  m->stamp = guard_stamp();
  m->keys.reserve(n);
  m->values.resize(n);
  m->state.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    m->keys.emplace_back(args[i + 1]);
    if (mget_hit_[i] == 1) {
      m->values[i] = mget_values_[i];
      m->state[i] = 1;
    } else if (mget_hit_[i] == 2) {
      m->state[i] = -1;
    } else {
      m->missing.push_back(i);
    }
  }
  m->conn_id = c.id();
  m->ticket = c.defer();
  m->ttls.assign(m->missing.size(), 0);
  m->gone.assign(m->missing.size(), 0);
  std::vector<std::string_view> fetch;
  fetch.push_back("MGET");
  for (size_t idx : m->missing) {
    fetch.push_back(m->keys[idx]);
    fetch_started(st.db, m->keys[idx]);
  }
  stats_.l2_fetches += m->missing.size();
  mgets_.emplace(id, std::move(owned));
  // The last PTTL's op ends the MGET (possibly inside send() when L2 is down): keep the keys
  // to send apart from the state, and look the state up by id only.
  const std::vector<std::string> keys_sent = [&] {
    std::vector<std::string> k;
    for (size_t idx : m->missing) k.push_back(m->keys[idx]);
    return k;
  }();
  const int db = st.db;
  send(db, fetch, std::make_unique<MgetFetchOp>(*this, id));
  for (size_t k = 0; k < keys_sent.size(); ++k) {
    std::string_view pttl[] = {"PTTL", keys_sent[k]};
    send(db, pttl, std::make_unique<MgetTtlOp>(*this, id, k));
  }
}

ExistsState* Sidecar::exists_op(uint64_t id) { return find_op(exists_, id); }
std::unique_ptr<ExistsState> Sidecar::take_exists(uint64_t id) { return take_op(exists_, id); }

// EXISTS counts every key L1 holds (a value: 1, a negative entry: 0) and asks the L2 about the
// rest, one EXISTS each so that a 0 can become a negative entry (the whole EXISTS as it is when
// nothing could be cached).
void Sidecar::cmd_exists(net::Connection& c, ClientState& st,
                         std::span<const std::string_view> args) {
  const L1Use use = l1_use();
  int64_t n = 0;
  exists_unknown_.clear();
  for (size_t i = 1; i < args.size(); ++i) {
    switch (l1_lookup(use, st.db, args[i], &value_scratch_)) {
      case l1::GetResult::kHit:
        ++n;
        break;
      case l1::GetResult::kAbsent:
        break;
      case l1::GetResult::kMiss:
        exists_unknown_.push_back(i);
        break;
    }
  }
  if (exists_unknown_.empty()) {
    resp::write_integer(c.reply(), n);
    return;
  }
  if (use == L1Use::kOff || !config_.l1_negative) {  // nothing to cache: one request, as is
    passthrough(c, st, args);
    return;
  }
  auto owned = std::make_unique<ExistsState>();
  const uint64_t id = next_op_id_++;
  owned->id = id;
  owned->db = st.db;
  owned->stamp = guard_stamp();
  owned->count = n;
  owned->conn_id = c.id();
  owned->ticket = c.defer();
  for (size_t i : exists_unknown_) {
    owned->keys.emplace_back(args[i]);
    fetch_started(st.db, args[i]);
  }
  owned->absent.assign(owned->keys.size(), 0);
  stats_.l2_fetches += owned->keys.size();
  // The last reply ends the state (possibly inside send() when the L2 is down): send from a
  // copy of the keys, and let the ops find the state by id.
  const std::vector<std::string> keys = owned->keys;
  exists_.emplace(id, std::move(owned));
  for (size_t k = 0; k < keys.size(); ++k) {
    std::string_view q[] = {"EXISTS", keys[k]};
    send(st.db, q, std::make_unique<ExistsOp>(*this, id, k));
  }
}

// STRLEN of a key in L1 is its value's length (0 for a negative entry, as Redis answers for
// an absent key); a miss asks the L2 (absent, or not a string).
void Sidecar::cmd_strlen(net::Connection& c, ClientState& st,
                         std::span<const std::string_view> args) {
  switch (l1_lookup(l1_use(), st.db, args[1], &value_scratch_)) {
    case l1::GetResult::kHit:
      resp::write_integer(c.reply(), static_cast<int64_t>(value_scratch_.size()));
      return;
    case l1::GetResult::kAbsent:
      resp::write_integer(c.reply(), 0);
      return;
    case l1::GetResult::kMiss:
      break;
  }
  passthrough(c, st, args);
}

// ---- fill guard ----------------------------------------------------------------------------

bool Sidecar::fill_allowed(int db, std::string_view key, uint64_t stamp) {
  if (!l1_serving() || all_flushed_at_ > stamp) return false;
  if (!bus_->tracks(key)) {
    stats_.fills_untracked++;
    return false;
  }
  if (static_cast<size_t>(db) < db_flushed_at_.size() && db_flushed_at_[db] > stamp) return false;
  guard_key(key_scratch_, db, key);  // the reused buffer: no allocation per completed fetch
  auto it = guards_.find(key_scratch_);
  return it == guards_.end() || it->second.invalidated_at <= stamp;
}

void Sidecar::fetch_started(int db, std::string_view key) {
  if (db_used_.size() <= static_cast<size_t>(db)) db_used_.resize(db + 1, 0);
  if (!db_used_[db]) {
    db_used_[db] = 1;
    used_dbs_.push_back(db);
  }
  guard_key(key_scratch_, db, key);
  guards_[key_scratch_].fetches++;
}

void Sidecar::fetch_finished(int db, std::string_view key) {
  guard_key(key_scratch_, db, key);
  auto it = guards_.find(key_scratch_);
  if (it != guards_.end() && --it->second.fetches == 0) guards_.erase(it);
}

// ---- invalidation --------------------------------------------------------------------------

void Sidecar::invalidate(const std::vector<invalidation::Group>& groups) {
  for (const auto& g : groups) {
    if (g.flush) {
      invalidate_db(g.db);
    } else if (g.db == invalidation::kAllDbs) {  // MOVE, COPY ... DB: the keys in every db
      for (const auto& k : g.keys)
        for (int db : used_dbs_) invalidate_key(db, k);
    } else {
      for (const auto& k : g.keys) invalidate_key(static_cast<int>(g.db), k);
    }
  }
}

void Sidecar::invalidate_key(int db, std::string_view key) {
  l1_->del(static_cast<uint32_t>(db), key);
  ++inv_seq_;
  if (guards_.empty() && joinable_.empty()) return;
  guard_key(key_scratch_, db, key);
  if (auto it = guards_.find(key_scratch_); it != guards_.end())
    it->second.invalidated_at = inv_seq_;
  // A flight in progress is no longer joinable: later readers fetch afresh.
  if (auto it = joinable_.find(key_scratch_); it != joinable_.end()) joinable_.erase(it);
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
  for (auto it = joinable_.begin(); it != joinable_.end();) {
    Flight* f = flight(it->second);
    if (f != nullptr && (db == invalidation::kAllDbs || f->db == static_cast<int>(db))) {
      it = joinable_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace tiercache::sidecar
