// The read path (see read_path.h): the commands served from L1, their fetches from the L2
// (single flight, MGET and EXISTS splits), fills through the fill guard, and invalidations.
#include "sidecar/read_path.h"

#include "shared/resp/reply_writer.h"
#include "sidecar/cluster/slot.h"

namespace tiercache::sidecar {

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

}  // namespace

// ---- operations in flight ------------------------------------------------------------------

// A GET miss in flight, owned by flights_ under its id; later misses of the same (db, key)
// join it (single flight) while joinable_ points at it, i.e. until it ends or its key is
// invalidated.
struct ReadPath::Flight {
  uint64_t id = 0;
  int db = 0;
  std::string key;
  uint64_t stamp = 0;
  bool failed = false;
  bool nil = false;
  std::string value;
  std::string error;                                   // an error reply from L2 (e.g. WRONGTYPE)
  std::vector<std::pair<uint64_t, uint64_t>> waiters;  // (connection id, ticket)
};

// An MGET with some keys missing from L1, owned by mgets_ under its id: one MGET for the
// misses plus a PTTL each, pipelined; the last PTTL reply answers the client.
struct ReadPath::MgetState {
  uint64_t id = 0;
  uint64_t conn_id = 0, ticket = 0;
  int db = 0;
  uint64_t stamp = 0;
  std::vector<std::string> keys;  // all requested keys
  std::vector<int> state;         // per key: 1 hit (value set), 0 miss, -1 nil
  std::vector<std::string> values;
  std::vector<size_t> missing;  // indexes fetched from L2
  std::vector<uint64_t> ttls;
  std::vector<uint8_t> gone;  // per fetched key: its PTTL said absent (-2): cache as negative
  bool failed = false;
  std::string error;
  size_t ttl_replies = 0;
};

// An EXISTS with some keys unknown to L1, owned by exists_ under its id: one EXISTS per
// unknown key, pipelined, so that each key found absent can become a negative entry; the last
// reply answers the client with the L1 count plus the L2's.
struct ReadPath::ExistsState {
  uint64_t id = 0;
  uint64_t conn_id = 0, ticket = 0;
  int db = 0;
  uint64_t stamp = 0;
  int64_t count = 0;              // keys found so far (L1 hits, then L2 replies)
  std::vector<std::string> keys;  // asked from the L2
  std::vector<uint8_t> absent;    // per asked key: the L2 said 0
  size_t replies = 0;
  bool failed = false;
  std::string error;
};

class ReadPath::FlightGetOp final : public Completion {
 public:
  FlightGetOp(ReadPath& r, uint64_t flight_id) : r_(r), id_(flight_id) {}
  void on_reply(const redisReply* r) override {
    Flight* f = r_.flight(id_);
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

 private:
  ReadPath& r_;
  uint64_t id_;
};

// The flight's PTTL: fills L1, answers every waiter, ends the flight (also on failure).
class ReadPath::FlightTtlOp final : public Completion {
 public:
  FlightTtlOp(ReadPath& r, uint64_t flight_id) : r_(r), id_(flight_id) {}
  void on_reply(const redisReply* r) override {
    // Ended (not joinable) before answering: an answer may let a paused client issue a new GET.
    std::unique_ptr<Flight> f = r_.take_flight(id_);
    if (f == nullptr) return;
    // The guard entry (fetch_started) must still exist here: it holds the key's invalidation.
    if (!f->failed && !f->nil && f->error.empty())
      r_.fill(f->db, f->key, f->value, l1_ttl(r, r_.config_.l1_max_ttl_ms), f->stamp);
    else if (!f->failed && f->nil && pttl_gone(r))
      r_.fill_absent(f->db, f->key, f->stamp);
    for (auto [conn_id, ticket] : f->waiters) {
      net::Connection* c = r_.host_.connection(conn_id);
      if (c == nullptr) continue;
      std::string& out = c->slot(ticket);
      if (f->failed)
        r_.host_.write_l2_error(out);
      else if (!f->error.empty())
        resp::write_error(out, f->error);
      else if (f->nil)
        resp::write_null(out);
      else
        resp::write_bulk(out, f->value);
      c->complete(ticket);
    }
    r_.fetch_finished(f->db, f->key);
  }

 private:
  ReadPath& r_;
  uint64_t id_;
};

class ReadPath::MgetFetchOp final : public Completion {
 public:
  MgetFetchOp(ReadPath& r, uint64_t mget_id) : r_(r), id_(mget_id) {}
  void on_reply(const redisReply* r) override {
    MgetState* m = r_.mget_op(id_);
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

 private:
  ReadPath& r_;
  uint64_t id_;
};

// One PTTL of an MGET's misses; the last one fills L1 and answers.
class ReadPath::MgetTtlOp final : public Completion {
 public:
  MgetTtlOp(ReadPath& r, uint64_t mget_id, size_t idx) : r_(r), id_(mget_id), i_(idx) {}
  void on_reply(const redisReply* r) override {
    MgetState* pending = r_.mget_op(id_);
    if (pending == nullptr) return;
    pending->ttls[i_] = l1_ttl(r, r_.config_.l1_max_ttl_ms);
    pending->gone[i_] = pttl_gone(r) ? 1 : 0;
    if (++pending->ttl_replies < pending->missing.size()) return;
    std::unique_ptr<MgetState> m = r_.take_mget(id_);
    bool ok = !m->failed && m->error.empty();
    for (size_t k = 0; k < m->missing.size(); ++k) {
      size_t idx = m->missing[k];
      if (ok && m->state[idx] == 1)
        r_.fill(m->db, m->keys[idx], m->values[idx], m->ttls[k], m->stamp);
      else if (ok && m->state[idx] == -1 && m->gone[k])  // nil, and not another type
        r_.fill_absent(m->db, m->keys[idx], m->stamp);
      r_.fetch_finished(m->db, m->keys[idx]);
    }
    if (net::Connection* c = r_.host_.connection(m->conn_id)) {
      std::string& out = c->slot(m->ticket);
      if (m->failed) {
        r_.host_.write_l2_error(out);
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

 private:
  ReadPath& r_;
  uint64_t id_;
  size_t i_;
};

// One EXISTS of an EXISTS's unknown keys; the last one fills negatives and answers.
class ReadPath::ExistsOp final : public Completion {
 public:
  ExistsOp(ReadPath& r, uint64_t exists_id, size_t idx) : r_(r), id_(exists_id), i_(idx) {}
  void on_reply(const redisReply* r) override {
    ExistsState* pending = r_.exists_op(id_);
    if (pending == nullptr) return;
    if (r == nullptr)
      pending->failed = true;
    else if (r->type == REDIS_REPLY_ERROR)
      pending->error.assign(r->str, r->len);
    else if (r->type != REDIS_REPLY_INTEGER)
      pending->error = "ERR tiercache: unexpected reply from L2 to EXISTS";
    else if (r->integer == 0)
      pending->absent[i_] = 1;
    else
      pending->count += r->integer;
    if (++pending->replies < pending->keys.size()) return;
    std::unique_ptr<ExistsState> e = r_.take_exists(id_);
    const bool ok = !e->failed && e->error.empty();
    for (size_t k = 0; k < e->keys.size(); ++k) {
      if (ok && e->absent[k]) r_.fill_absent(e->db, e->keys[k], e->stamp);
      r_.fetch_finished(e->db, e->keys[k]);
    }
    net::Connection* c = r_.host_.connection(e->conn_id);
    if (c == nullptr) return;
    std::string& out = c->slot(e->ticket);
    if (e->failed)
      r_.host_.write_l2_error(out);
    else if (!e->error.empty())
      resp::write_error(out, e->error);
    else
      resp::write_integer(out, e->count);
    c->complete(e->ticket);
  }

 private:
  ReadPath& r_;
  uint64_t id_;
  size_t i_;
};

ReadPath::ReadPath(ReadHost& host, const Config& config, SidecarStats& stats)
    : host_(host), config_(config), stats_(stats) {}

ReadPath::~ReadPath() = default;

ReadPath::Flight* ReadPath::flight(uint64_t id) { return find_op(flights_, id); }

std::unique_ptr<ReadPath::Flight> ReadPath::take_flight(uint64_t id) {
  auto it = flights_.find(id);
  if (it == flights_.end()) return nullptr;
  std::unique_ptr<Flight> f = std::move(it->second);
  flights_.erase(it);
  guard_key(key_scratch_, f->db, f->key);
  if (auto j = joinable_.find(key_scratch_); j != joinable_.end() && j->second == id)
    joinable_.erase(j);
  return f;  // the caller ends its fetch (fetch_finished) once it has filled
}

ReadPath::MgetState* ReadPath::mget_op(uint64_t id) { return find_op(mgets_, id); }
std::unique_ptr<ReadPath::MgetState> ReadPath::take_mget(uint64_t id) {
  return take_op(mgets_, id);
}
ReadPath::ExistsState* ReadPath::exists_op(uint64_t id) { return find_op(exists_, id); }
std::unique_ptr<ReadPath::ExistsState> ReadPath::take_exists(uint64_t id) {
  return take_op(exists_, id);
}

size_t ReadPath::in_flight() const { return flights_.size() + mgets_.size() + exists_.size(); }

// ---- reads ---------------------------------------------------------------------------------

l1::GetResult ReadPath::l1_lookup(L1Use use, int db, std::string_view key, std::string* value) {
  if (use != L1Use::kOff && !host_.key_followed(key))
    use = host_.key_stale_ok(key) ? L1Use::kStale : L1Use::kOff;
  if (use == L1Use::kOff) {
    stats_.l1_bypassed++;
    return l1::GetResult::kMiss;
  }
  const l1::GetResult r = host_.l1().get(static_cast<uint32_t>(db), key, value, nullptr);
  if (r == l1::GetResult::kMiss) {
    stats_.l1_misses++;
    return r;
  }
  stats_.l1_hits++;
  if (r == l1::GetResult::kAbsent) stats_.l1_negative_hits++;
  if (use == L1Use::kStale) stats_.stale_answers++;
  return r;
}

void ReadPath::get(net::Connection& c, int db, std::string_view key) {
  switch (l1_lookup(host_.l1_use(), db, key, &value_scratch_)) {
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
  guard_key(key_scratch_, db, key);
  auto it = joinable_.find(key_scratch_);
  if (it != joinable_.end()) {
    stats_.coalesced_misses++;
    flights_.at(it->second)->waiters.emplace_back(c.id(), ticket);
    return;
  }
  start_flight(db, key, c.id(), ticket);
}

void ReadPath::start_flight(int db, std::string_view key, uint64_t conn_id, uint64_t ticket) {
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
  host_.send(db, get, std::make_unique<FlightGetOp>(*this, id));
  host_.send(db, pttl, std::make_unique<FlightTtlOp>(*this, id));  // ends the flight
}

void ReadPath::mget(net::Connection& c, int db, std::span<const std::string_view> args) {
  size_t n = args.size() - 1;
  const L1Use use = host_.l1_use();
  if (mget_values_.size() < n) mget_values_.resize(n);
  mget_hit_.assign(n, 0);  // per key: 0 miss, 1 value, 2 known absent
  bool all_hit = true;
  for (size_t i = 0; i < n; ++i) {  // one L1 lookup per key, into reused buffers
    const l1::GetResult r = l1_lookup(use, db, args[i + 1], &mget_values_[i]);
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
  m->db = db;
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
    fetch_started(db, m->keys[idx]);
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
  host_.send(db, fetch, std::make_unique<MgetFetchOp>(*this, id));
  for (size_t k = 0; k < keys_sent.size(); ++k) {
    std::string_view pttl[] = {"PTTL", keys_sent[k]};
    host_.send(db, pttl, std::make_unique<MgetTtlOp>(*this, id, k));
  }
}

// EXISTS counts every key L1 holds (a value: 1, a negative entry: 0) and asks the L2 about the
// rest, one EXISTS each so that a 0 can become a negative entry (the whole EXISTS as it is when
// nothing could be cached: false, for the caller to relay).
bool ReadPath::exists(net::Connection& c, int db, std::span<const std::string_view> args) {
  const L1Use use = host_.l1_use();
  int64_t n = 0;
  exists_unknown_.clear();
  for (size_t i = 1; i < args.size(); ++i) {
    switch (l1_lookup(use, db, args[i], &value_scratch_)) {
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
    return true;
  }
  if (use == L1Use::kOff || !config_.l1_negative) return false;  // nothing to cache
  auto owned = std::make_unique<ExistsState>();
  const uint64_t id = next_op_id_++;
  owned->id = id;
  owned->db = db;
  owned->stamp = guard_stamp();
  owned->count = n;
  owned->conn_id = c.id();
  owned->ticket = c.defer();
  for (size_t i : exists_unknown_) {
    owned->keys.emplace_back(args[i]);
    fetch_started(db, args[i]);
  }
  owned->absent.assign(owned->keys.size(), 0);
  stats_.l2_fetches += owned->keys.size();
  // The last reply ends the state (possibly inside send() when the L2 is down): send from a
  // copy of the keys, and let the ops find the state by id.
  const std::vector<std::string> keys = owned->keys;
  exists_.emplace(id, std::move(owned));
  for (size_t k = 0; k < keys.size(); ++k) {
    std::string_view q[] = {"EXISTS", keys[k]};
    host_.send(db, q, std::make_unique<ExistsOp>(*this, id, k));
  }
  return true;
}

// STRLEN of a key in L1 is its value's length (0 for a negative entry, as Redis answers for
// an absent key); a miss is for the L2 (absent, or not a string): false, for the caller.
bool ReadPath::strlen(net::Connection& c, int db, std::span<const std::string_view> args) {
  switch (l1_lookup(host_.l1_use(), db, args[1], &value_scratch_)) {
    case l1::GetResult::kHit:
      resp::write_integer(c.reply(), static_cast<int64_t>(value_scratch_.size()));
      return true;
    case l1::GetResult::kAbsent:
      resp::write_integer(c.reply(), 0);
      return true;
    case l1::GetResult::kMiss:
      break;
  }
  return false;
}

// ---- fills ---------------------------------------------------------------------------------

bool ReadPath::fill_allowed(int db, std::string_view key, uint64_t stamp) {
  if (!host_.l1_serving() || guard_.all_flushed_after(stamp) || !host_.key_followed(key))
    return false;
  if (!host_.tracks(key)) {
    stats_.fills_untracked++;
    return false;
  }
  return guard_.allows(db, key, stamp);
}

void ReadPath::fill(int db, const std::string& key, const std::string& value, uint64_t ttl,
                    uint64_t stamp) {
  if (ttl == 0) return;
  if (fill_allowed(db, key, stamp)) {
    if (host_.l1().set(static_cast<uint32_t>(db), key, value, ttl)) stats_.fills++;
  } else {
    stats_.fills_discarded++;
  }
}

// A negative entry for a key the L2 said is absent, through the same guard, for the TTL cap
// (absence has no TTL at the L2: a write of the key is what ends it, by invalidation).
void ReadPath::fill_absent(int db, const std::string& key, uint64_t stamp) {
  if (!config_.l1_negative) return;
  if (fill_allowed(db, key, stamp)) {
    if (host_.l1().set_absent(static_cast<uint32_t>(db), key,
                              static_cast<uint64_t>(config_.l1_max_ttl_ms)))
      stats_.negative_fills++;
  } else {
    stats_.fills_discarded++;
  }
}

// ---- invalidation --------------------------------------------------------------------------

void ReadPath::invalidate(const std::vector<invalidation::Group>& groups) {
  for (const auto& g : groups) {
    if (g.flush) {
      invalidate_db(g.db);
    } else if (g.db == invalidation::kAllDbs) {  // MOVE, COPY ... DB: the keys in every db
      for (const auto& k : g.keys) invalidate_key_in_every_db(k);
    } else {
      for (const auto& k : g.keys) invalidate_key(static_cast<int>(g.db), k);
    }
  }
}

void ReadPath::invalidate_key(int db, std::string_view key) {
  host_.l1().del(static_cast<uint32_t>(db), key);
  guard_.key_invalidated(db, key);
  if (joinable_.empty()) return;
  // A flight in progress is no longer joinable: later readers fetch afresh.
  guard_key(key_scratch_, db, key);
  if (auto it = joinable_.find(key_scratch_); it != joinable_.end()) joinable_.erase(it);
}

void ReadPath::invalidate_key_in_every_db(std::string_view key) {
  for (int db : guard_.used_dbs()) invalidate_key(db, key);
}

template <class Pred>
void ReadPath::end_joinable_if(Pred ends) {
  for (auto it = joinable_.begin(); it != joinable_.end();) {
    Flight* f = flight(it->second);
    if (f != nullptr && ends(*f))
      it = joinable_.erase(it);
    else
      ++it;
  }
}

void ReadPath::invalidate_db(uint32_t db) {
  stats_.l1_flushes++;
  if (db == invalidation::kAllDbs) {
    host_.l1().flush_all();
    guard_.all_flushed();
    end_joinable_if([](const Flight&) { return true; });
  } else {
    host_.l1().flush_db(db);
    guard_.db_flushed(db);
    end_joinable_if([db](const Flight& f) { return f.db == static_cast<int>(db); });
  }
}

void ReadPath::invalidate_slots(std::span<const uint16_t> slots) {
  if (slots.empty()) return;
  if (!host_.l1().flush_slots(slots)) return invalidate_db(invalidation::kAllDbs);
  stats_.l1_slots_flushed += slots.size();  // (l1_flushes counts whole and db flushes)
  std::vector<uint8_t> dropped(cluster::kSlots, 0);
  for (uint16_t s : slots) {
    guard_.slot_flushed(s);
    if (s < cluster::kSlots) dropped[s] = 1;
  }
  end_joinable_if([&dropped](const Flight& f) { return dropped[cluster::key_slot(f.key)] != 0; });
}

void ReadPath::refuse_fills_in_flight() {
  guard_.all_flushed();
  joinable_.clear();
}

}  // namespace tiercache::sidecar
