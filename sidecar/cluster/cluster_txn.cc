// ClusterLink's transactions (see cluster_link.h): the commands held between MULTI and EXEC
// are grouped by hash slot, and each group is sent as a MULTI ... EXEC of its own to the
// slot's master (a SlotTxn). The queued commands' replies are held until their EXEC answers,
// so a transaction that a resharding turned away can be sent again whole and the caller sees
// one QUEUED per command and one EXEC reply, as from a single Redis:
//   - a queued command answered MOVED or ASK makes Redis abort the EXEC (EXECABORT), and
//     EXEC itself answers MOVED, ASK or TRYAGAIN when the slot moved or is moving under the
//     transaction: in every case nothing of it ran, so sending it again cannot apply it twice;
//   - MOVED: the topology is refreshed and the group goes to the named node;
//   - ASK (the key is already at the importing node): ASKING, then the group there; Redis keeps
//     the ASKING flag until the EXEC that ends the transaction;
//   - TRYAGAIN (a multi-key command whose keys are split between the two nodes mid-migration):
//     sent again to the slot's owner at the next tick.
// Any other error (a command refused when queued, a WATCH that failed) is the caller's answer.
#include <algorithm>

#include "sidecar/cluster/cluster_link.h"
#include "sidecar/cluster/cluster_op.h"

namespace tiercache::sidecar::cluster {
namespace {

bool starts_with(const redisReply* r, std::string_view prefix) {
  return r != nullptr && r->type == REDIS_REPLY_ERROR &&
         std::string_view(r->str, r->len).starts_with(prefix);
}

}  // namespace

class ClusterLink::TxnReply final : public Completion {
 public:
  TxnReply(ClusterLink& link, SlotTxn& t, size_t index) : link_(link), t_(t), index_(index) {}
  void on_reply(const redisReply* r) override { link_.txn_reply(t_, index_, r); }

 private:
  ClusterLink& link_;
  SlotTxn& t_;
  size_t index_;  // into t_.cmds; cmds.size(): the EXEC
};

void ClusterLink::exec(Op& op) {
  in_multi_ = false;
  std::vector<Queued> queued;
  queued.swap(queued_);
  // Groups in order of first appearance; keyless commands join the first group.
  std::vector<int> group_slot;
  std::vector<size_t> group_of(queued.size());
  for (size_t i = 0; i < queued.size(); ++i) {
    int s = queued[i].slot;
    auto it = std::find(group_slot.begin(), group_slot.end(), s);
    if (s < 0 && !group_slot.empty()) {
      group_of[i] = 0;
    } else if (it != group_slot.end()) {
      group_of[i] = static_cast<size_t>(it - group_slot.begin());
    } else if (!group_slot.empty() && group_slot[0] < 0) {
      group_slot[0] = s;  // a keyless command came first: its group takes this slot
      group_of[i] = 0;
    } else {
      group_of[i] = group_slot.size();
      group_slot.push_back(s);
    }
  }
  if (group_slot.empty()) group_slot.push_back(-1);
  op.merge = Op::Merge::kExec;
  op.elements.resize(queued_commands_);
  op.sums.resize(queued_commands_);
  for (size_t e : refused_) op.elements[e] = "-" + std::string(kCrossSlot) + "\r\n";
  op.positions.resize(group_slot.size());
  for (size_t i = 0; i < queued.size(); ++i) op.positions[group_of[i]].push_back(queued[i].element);
  op.waiting = group_slot.size();
  std::vector<SlotTxn*> groups;
  for (size_t g = 0; g < group_slot.size(); ++g) {
    auto t = std::make_unique<SlotTxn>();
    t->exec_op = &op;
    t->group = g;
    t->slot = group_slot[g];
    for (size_t i = 0; i < queued.size(); ++i)
      if (group_of[i] == g) t->cmds.push_back({std::move(queued[i].wire), queued[i].op, "", false});
    groups.push_back(t.get());
    txns_.push_back(std::move(t));
  }
  // Sent after all are made: a group that fails at once (no master) answers re-entrantly.
  for (SlotTxn* t : groups) send_txn(*t, master_link(t->slot), false);
}

void ClusterLink::send_txn(SlotTxn& t, L2Link* to, bool asking) {
  t.redirected = t.tryagain = t.other_error = false;
  for (SlotTxn::Cmd& c : t.cmds) {
    c.reply.clear();
    c.answered = false;
  }
  if (to == nullptr) {
    last_error_ = "no master serves the slot";
    return txn_end(t, nullptr);
  }
  t.at = Endpoint{};
  for (auto& [name, link] : nodes_)
    if (link.get() == to) {
      size_t colon = name.rfind(':');
      t.at = Endpoint{false, name.substr(0, colon), std::stoi(name.substr(colon + 1))};
    }
  std::string_view asking_cmd[] = {"ASKING"}, multi[] = {"MULTI"}, exec_cmd[] = {"EXEC"};
  if (asking) to->send(asking_cmd, nullptr);
  to->send(multi, nullptr);
  for (size_t i = 0; i < t.cmds.size(); ++i)
    to->send_formatted(t.cmds[i].wire, std::make_unique<TxnReply>(*this, t, i));
  to->send(exec_cmd, std::make_unique<TxnReply>(*this, t, t.cmds.size()));
}

void ClusterLink::txn_reply(SlotTxn& t, size_t index, const redisReply* r) {
  Redirect rd;
  if (r != nullptr && r->type == REDIS_REPLY_ERROR) {
    if (parse_redirect(std::string_view(r->str, r->len), &rd)) {
      if (!t.redirected) {
        if (rd.host.empty()) rd.host = t.at.host;
        t.redirected = true;
        t.where = std::move(rd);
      }
    } else if (starts_with(r, "TRYAGAIN")) {
      t.tryagain = true;
    } else if (index < t.cmds.size() || !starts_with(r, "EXECABORT")) {
      t.other_error = true;  // the caller's to see: not a resharding's doing
    }
  }
  if (index < t.cmds.size()) {
    if (r != nullptr) t.cmds[index].reply = as_resp(r);
    t.cmds[index].answered = r != nullptr;
    return;
  }
  // EXEC: the last reply of the attempt (one ordered link).
  const bool turned_away = r != nullptr && r->type == REDIS_REPLY_ERROR && !t.other_error &&
                           (t.redirected || t.tryagain) && !stopped_;
  if (turned_away && t.redirected && t.redirects < kMaxRedirects) {
    ++t.redirects;
    L2Link* to = node(t.where.host, t.where.port);
    const bool ask = t.where.kind == Redirect::Kind::kAsk;
    if (!ask) {
      refresh_wanted_ = true;
      discover();
    }
    return send_txn(t, to, ask);
  }
  if (turned_away && !t.redirected && t.tryagains < kMaxTryAgain) {
    ++t.tryagains;
    auto it = std::find_if(txns_.begin(), txns_.end(), [&](auto& p) { return p.get() == &t; });
    txn_retries_.push_back(std::move(*it));
    txns_.erase(it);
    return;
  }
  txn_end(t, r);
}

// The attempt stands: the queued commands answer what they got, then EXEC its part.
void ClusterLink::txn_end(SlotTxn& t, const redisReply* exec_reply) {
  std::unique_ptr<SlotTxn> own;
  for (auto* list : {&txns_, &txn_retries_}) {
    auto it = std::find_if(list->begin(), list->end(), [&](auto& p) { return p.get() == &t; });
    if (it != list->end()) {
      own = std::move(*it);
      list->erase(it);
      break;
    }
  }
  for (SlotTxn::Cmd& c : t.cmds) {
    if (!c.answered || exec_reply == nullptr) c.op->failed = true;
    else c.op->reply = std::move(c.reply);  // a split DEL: its last part's
    if (--c.op->waiting == 0) c.op->complete = true;
  }
  if (exec_reply != nullptr)
    return merge(*t.exec_op, t.group, exec_reply);  // drains: the queued Ops come first
  // No answer from this slot's master (down, lost mid-way): only this group's elements of
  // EXEC's reply fail, with the reason; the other slots' groups committed or not on their own.
  if (!t.at.host.empty()) {
    auto it = nodes_.find(node_name(t.at.host, t.at.port));
    const std::string why = it != nodes_.end() && !it->second->last_error().empty()
                                ? it->second->last_error()
                                : std::string("no reply");
    last_error_ = endpoint_text(t.at) + ": " + why;
  }
  std::string text = "ERR tiercache: L2 unavailable (" + last_error_ + ")";
  redisReply failed{};
  failed.type = REDIS_REPLY_ERROR;
  failed.str = text.data();
  failed.len = text.size();
  merge(*t.exec_op, t.group, &failed);
}

void ClusterLink::retry_txns() {
  std::vector<std::unique_ptr<SlotTxn>> now;
  now.swap(txn_retries_);
  for (auto& t : now) {
    SlotTxn& ref = *t;
    txns_.push_back(std::move(t));
    if (stopped_) txn_end(ref, nullptr);
    else send_txn(ref, master_link(ref.slot), false);
  }
}

}  // namespace tiercache::sidecar::cluster
