// The write path (see write_path.h): batching, commit with invalidation, heartbeat.
#include "sidecar/write_path.h"

#include "shared/resp/reply_writer.h"
#include "sidecar/sidecar.h"
#include "sidecar/state.h"

namespace tiercache::sidecar {

using command::CommandSpec;
using invalidation::Group;

bool is_write(const CommandSpec& spec) {
  return (spec.flags & command::kWrite) ||
         ((spec.flags & command::kScripting) && !(spec.flags & command::kRead));
}

void write_groups(int db, const CommandSpec& spec, std::span<const std::string_view> args,
                  std::vector<Group>* groups) {
  if (spec.flags & command::kFlush) {
    Group g;
    g.flush = true;
    g.db = (spec.flags & command::kAllDbs) ? invalidation::kAllDbs : static_cast<uint32_t>(db);
    groups->push_back(std::move(g));
    return;
  }
  std::vector<int> pos;
  command::CommandTable::key_positions(spec, args, &pos);
  if (pos.empty()) return;
  Group g;
  g.db = (spec.flags & command::kOtherDb) ? invalidation::kAllDbs : static_cast<uint32_t>(db);
  for (int p : pos) g.keys.emplace_back(args[p]);
  groups->push_back(std::move(g));
}

namespace {

// Adds `from` to `into`, one key group per db.
void merge_groups(std::vector<Group>& into, std::vector<Group>&& from) {
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

size_t key_count(const std::vector<Group>& groups) {
  size_t n = 0;
  for (const auto& g : groups) n += g.keys.size();
  return n;
}

}  // namespace

// The EXEC of a commit: drops the keys again, stops waiting for a message that was not
// committed, answers every waiter.
class WritePath::CommitDone final : public Op {
 public:
  CommitDone(Sidecar& s, size_t n, std::vector<Group> groups, std::vector<Waiter> waiters)
      : Op(s), n_(n), groups_(std::move(groups)), waiters_(std::move(waiters)) {}
  // Committed on a dedicated link: publish (fallback source) once it committed.
  void set_elsewhere() { elsewhere_ = true; }
  void set_published(uint64_t seq) {
    has_publish_ = true;
    seq_ = seq;
  }
  const std::vector<Group>& groups() const { return groups_; }

  void on_reply(const redisReply* r) override {
    s.reads().invalidate(groups_);
    bool ok =
        r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == n_ + (has_publish_ ? 1 : 0);
    if (has_publish_ && !ok) s.bus().forget(seq_);
    // A nil EXEC (a WATCHed key changed) wrote nothing.
    if (elsewhere_ && ok) s.writes().committed_elsewhere(std::move(groups_));
    for (const Waiter& w : waiters_) {
      net::Connection* c = s.connection(w.conn_id);
      if (c == nullptr) continue;
      std::string& out = c->slot(w.ticket);
      if (ok && w.as_array) {
        resp::write_array_header(out, static_cast<int64_t>(w.count));
        for (size_t i = w.first; i < w.first + w.count; ++i) write_reply(out, r->element[i]);
      } else if (ok) {
        write_reply(out, r->element[w.first]);
      } else if (r == nullptr) {
        s.write_l2_error(out);
      } else if (w.as_array || r->type == REDIS_REPLY_ERROR) {
        write_reply(out, r);  // EXECABORT, an error, or nil
      } else {
        resp::write_error(out, "ERR tiercache: L2 did not commit the write");
      }
      c->complete(w.ticket);
    }
  }

 private:
  size_t n_;
  std::vector<Group> groups_;
  std::vector<Waiter> waiters_;
  bool has_publish_ = false;
  bool elsewhere_ = false;
  uint64_t seq_ = 0;
};

void WritePath::write(net::Connection& c, int db, const CommandSpec& spec,
                      std::span<const std::string_view> args, L2Link* pinned) {
  s_.stats().writes++;
  std::vector<Group> groups;
  write_groups(db, spec, args, &groups);
  s_.reads().invalidate(groups);  // read-your-writes on this host: drop before sending
  if (pinned != nullptr) {
    std::vector<std::string> wires(1);
    format_command(wires[0], args);
    commit(pinned, db, std::move(wires), std::move(groups), false,
           {Waiter{c.id(), c.defer(), 0, 1, false}});
    return;
  }
  if (!batch_waiters_.empty() && batch_db_ != db) flush();
  batch_db_ = db;
  batch_waiters_.push_back(Waiter{c.id(), c.defer(), batch_wires_.size(), 1, false});
  batch_wires_.emplace_back();
  format_command(batch_wires_.back(), args);
  merge_groups(batch_groups_, std::move(groups));
  if (batch_wires_.size() >= kMaxBatch) flush();
}

void WritePath::exec(net::Connection& c, int db,
                     const std::vector<std::vector<std::string>>& queue, L2Link* pinned) {
  std::vector<std::string> wires(queue.size());
  std::vector<Group> groups;
  std::vector<std::string_view> args;
  for (size_t i = 0; i < queue.size(); ++i) {
    args.assign(queue[i].begin(), queue[i].end());
    const CommandSpec* spec = s_.commands().find(args[0]);
    if (spec != nullptr && is_write(*spec)) write_groups(db, *spec, args, &groups);
    format_command(wires[i], args);
  }
  s_.reads().invalidate(groups);  // drop locally first, as for single writes
  if (!groups.empty()) s_.stats().writes++;
  uint64_t ticket = c.defer();
  flush();  // earlier writes first
  bool publish = !groups.empty() && pinned == nullptr;
  commit(pinned, db, std::move(wires), std::move(groups), publish,
         {Waiter{c.id(), ticket, 0, queue.size(), true}});
}

void WritePath::committed_elsewhere(std::vector<Group> groups) {
  s_.reads().invalidate(groups);
  if (groups.empty() || !s_.bus().writes_publish()) return;
  flush();  // the shared link's order: earlier batches' messages first
  commit(nullptr, batch_db_, {}, std::move(groups), true, {});
}

void WritePath::flush() {
  if (batch_wires_.empty()) return;
  std::vector<std::string> wires;
  std::vector<Waiter> waiters;
  std::vector<Group> groups;
  wires.swap(batch_wires_);
  waiters.swap(batch_waiters_);
  groups.swap(batch_groups_);
  if (s_.link().connected()) s_.stats().write_batches++;
  commit(nullptr, batch_db_, std::move(wires), std::move(groups), true, std::move(waiters));
}

void WritePath::commit(L2Link* pinned, int db, std::vector<std::string> wires,
                       std::vector<Group> groups, bool publish, std::vector<Waiter> waiters) {
  L2Link& l2 = pinned != nullptr ? *pinned : s_.link();
  const size_t n = wires.size();
  auto done = std::make_unique<CommitDone>(s_, n, std::move(groups), std::move(waiters));
  if (pinned != nullptr) done->set_elsewhere();
  if (!l2.connected()) {
    done->on_reply(nullptr);
    return;
  }
  if (pinned == nullptr) s_.select_db(db);
  std::string_view multi[] = {"MULTI"};
  l2.send(multi, nullptr);
  for (const std::string& w : wires) l2.send_formatted(w, nullptr);
  if (publish && s_.bus().writes_publish()) {
    if (auto token = s_.bus().publish(l2, done->groups())) done->set_published(*token);
    s_.stats().invalidation_messages_sent++;
    s_.stats().invalidated_keys_sent += key_count(done->groups());
  }
  std::string_view exec[] = {"EXEC"};
  l2.send(exec, std::move(done));
}

void WritePath::heartbeat() {
  if (!s_.link().connected() || !s_.bus().healthy()) return;
  flush();
  s_.bus().heartbeat(s_.link());
}

}  // namespace tiercache::sidecar
