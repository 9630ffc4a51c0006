// ClusterLink (see cluster_link.h): a request becomes an Op at the back of the FIFO and one or
// more Parts (one request to one node each); Parts' replies are merged into their Op, and Ops
// are answered from the front of the FIFO only, so the caller sees request order.
#include "sidecar/cluster/cluster_link.h"
#include "sidecar/cluster/cluster_op.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include "shared/resp/reply_parser.h"
#include "shared/resp/reply_writer.h"
#include "shared/resp/request_parser.h"
#include "sidecar/link/hiredis_link.h"

namespace tiercache::sidecar::cluster {
namespace {

constexpr int kCursorShift = 54;  // SCAN: the master's index above the node's own cursor
constexpr uint64_t kCursorMask = (uint64_t{1} << kCursorShift) - 1;

}  // namespace

std::string node_name(const std::string& host, int port) {
  return host + ":" + std::to_string(port);
}

std::string as_resp(const redisReply* r) {
  std::string s;
  write_reply(s, r);
  return s;
}

bool one_slot(const command::CommandSpec& spec, std::span<const std::string_view> args) {
  std::vector<int> keys;
  command::CommandTable::key_positions(spec, args, &keys);
  for (int k : keys)
    if (key_slot(args[static_cast<size_t>(k)]) != key_slot(args[static_cast<size_t>(keys[0])]))
      return false;
  return true;
}

bool one_slot(const command::CommandTable& table,
              std::span<const std::vector<std::string>> commands) {
  int slot = -1;
  std::vector<int> keys;
  std::vector<std::string_view> args;
  for (const std::vector<std::string>& cmd : commands) {
    const command::CommandSpec* spec = cmd.empty() ? nullptr : table.find(cmd[0]);
    if (spec == nullptr) continue;
    args.assign(cmd.begin(), cmd.end());
    keys.clear();
    command::CommandTable::key_positions(*spec, args, &keys);
    for (int k : keys) {
      int s = key_slot(args[static_cast<size_t>(k)]);
      if (slot >= 0 && s != slot) return false;
      slot = s;
    }
  }
  return true;
}

class ClusterLink::Part final : public Completion {
 public:
  Part(ClusterLink& link, Op& op, size_t index, Endpoint at, std::string wire, int redirects,
       int tryagains)
      : link(link), op(op), index(index), at(std::move(at)), wire(std::move(wire)),
        redirects(redirects), tryagains(tryagains) {}
  void on_reply(const redisReply* r) override { link.part_done(*this, r); }

  ClusterLink& link;
  Op& op;
  size_t index;
  Endpoint at;
  std::string wire;
  int redirects;
  int tryagains;
};


ClusterLink::ClusterLink(const command::CommandTable& table, ClusterLinkOptions options)
    : table_(table), options_(std::move(options)), multi_(table.find("multi")),
      exec_(table.find("exec")), discard_(table.find("discard")), reader_(make_reply_reader()) {
  last_error_ = "cluster topology not known yet";
}

ClusterLink::~ClusterLink() {
  stop();
  redisReaderFree(reader_);
}

// ---- nodes and topology: cluster_nodes.cc ----

void ClusterLink::start() {
  stopped_ = false;
  for (const Endpoint& e : options_.seeds) node(e.host, e.port);
  discover();
}

void ClusterLink::stop() {
  stopped_ = true;
  in_multi_ = false;
  queued_.clear();  // their Ops fail below
  retry_txns();     // ends those waiting for a tick
  retry_parts();
  for (auto& [name, link] : nodes_) link->stop();  // fails what they hold: Ops complete
  for (auto& op : fifo_)
    if (!op->complete) {
      op->failed = true;
      op->complete = true;
    }
  drain();
}

// ---- requests ----

bool ClusterLink::send(std::span<const std::string_view> args, std::unique_ptr<Completion> done) {
  std::string wire;
  format_command(wire, args);
  route(args, std::move(wire), std::move(done));
  return true;
}

bool ClusterLink::send_formatted(std::string_view wire, std::unique_ptr<Completion> done) {
  static const resp::ParserLimits kLimits{.max_bulk_len = SIZE_MAX / 4};
  resp::RequestParser parser(&kLimits);
  size_t used = 0;
  if (parser.parse(wire.data(), wire.size(), &used) != resp::ParseStatus::kOk ||
      parser.args().empty()) {
    Op& op = push(std::move(done));
    op.reply = "-ERR tiercache: malformed request for the cluster link\r\n";
    op.complete = true;
    drain();
    return false;
  }
  route(parser.args(), std::string(wire), std::move(done));
  return true;
}

ClusterLink::Op& ClusterLink::push(std::unique_ptr<Completion> done) {
  fifo_.push_back(std::make_unique<Op>());
  fifo_.back()->done = std::move(done);
  return *fifo_.back();
}

void ClusterLink::route(std::span<const std::string_view> args, std::string wire,
                        std::unique_ptr<Completion> done) {
  Op& op = push(std::move(done));
  auto answer = [&](std::string_view resp_reply) {
    op.reply = resp_reply;
    op.complete = true;
    drain();
  };
  if (stopped_ || !known_) {
    op.failed = true;
    op.complete = true;
    return drain();
  }
  const command::CommandSpec* spec = table_.find(args[0]);
  std::vector<int> keys;
  if (spec != nullptr) command::CommandTable::key_positions(*spec, args, &keys);
  // The slots of the keys, each slot with the key indexes (into `keys`) it holds.
  SlotKeys slots;
  for (size_t i = 0; i < keys.size(); ++i) {
    int s = key_slot(args[static_cast<size_t>(keys[i])]);
    auto it = std::find_if(slots.begin(), slots.end(), [&](auto& p) { return p.first == s; });
    if (it == slots.end()) {
      slots.push_back({s, {}});
      it = slots.end() - 1;
    }
    it->second.push_back(i);
  }
  const uint32_t flags = spec != nullptr ? spec->flags : 0;

  if (in_multi_) {
    if (spec == exec_) return exec(op);
    if (spec == discard_) {
      for (Queued& q : queued_) {
        q.op->reply = "+QUEUED\r\n";
        q.op->complete = true;
      }
      queued_.clear();
      in_multi_ = false;
      return answer("+OK\r\n");
    }
    const size_t element = queued_commands_++;
    if (slots.size() > 1 && !(flags & command::kClusterSplit)) {
      // Refused as Redis refuses it when queued; the rest of the commit (other clients'
      // writes) goes on, and this element of EXEC's reply is the refusal.
      refused_.push_back(element);
      return answer("-" + std::string(kCrossSlot) + "\r\n");
    }
    if (keys.empty() && (flags & command::kAllShards)) {  // FLUSHDB: in every master's group
      op.waiting = masters_.size();
      for (size_t m = 0; m < masters_.size(); ++m)
        queued_.push_back(Queued{wire, &op, first_slot_of(m), element});
      return;
    }
    if (slots.size() > 1) {  // (DEL of the write path) one per slot; EXEC sums the parts
      std::vector<std::string> wires = split_wires(args, keys, slots);
      op.waiting = wires.size();
      for (size_t p = 0; p < wires.size(); ++p)
        queued_.push_back(Queued{std::move(wires[p]), &op, slots[p].first, element});
      return;
    }
    op.waiting = 1;
    queued_.push_back(Queued{std::move(wire), &op, slots.empty() ? -1 : slots[0].first, element});
    return;
  }
  if (spec == multi_) {
    in_multi_ = true;
    refused_.clear();
    queued_commands_ = 0;
    return answer("+OK\r\n");
  }
  if (slots.size() > 1 && !(flags & command::kClusterSplit))
    return answer("-" + std::string(kCrossSlot) + "\r\n");
  // A read answered TRYAGAIN is sent again later; a write is not (a later write of its keys,
  // sent meanwhile, would be overtaken): its error is the caller's.
  op.retry_tryagain = (flags & command::kRead) && !(flags & command::kWrite);
  if (slots.size() > 1) {  // split per slot: NAME key... for each slot
    op.merge = Op::Merge::kSplit;
    op.waiting = slots.size();
    op.elements.resize(keys.size());
    std::vector<std::string> wires = split_wires(args, keys, slots);
    for (auto& [slot, idx] : slots) op.positions.push_back(idx);
    for (size_t p = 0; p < wires.size(); ++p)
      send_part(op, p, master_link(slots[p].first), std::move(wires[p]), 0);
    return;
  }
  if (keys.empty() && (flags & command::kAllShards)) {
    op.merge = Op::Merge::kAll;
    op.waiting = masters_.size();
    std::vector<L2Link*> all = masters_;
    for (size_t m = 0; m < all.size(); ++m) send_part(op, m, all[m], wire, 0);
    return;
  }
  if (keys.empty() && (flags & command::kShardCursor) && args.size() >= 2)
    return route_scan(op, args);
  op.waiting = 1;
  send_part(op, 0, master_link(slots.empty() ? -1 : slots[0].first), std::move(wire), 0);
}

int ClusterLink::first_slot_of(size_t m) const {
  for (const SlotRange& r : topology_.ranges())
    if (r.master == topology_.masters()[m]) return r.first;
  return -1;
}

// NAME key... for each slot (key_step 1: the kClusterSplit commands).
std::vector<std::string> ClusterLink::split_wires(std::span<const std::string_view> args,
                                                  const std::vector<int>& keys,
                                                  const SlotKeys& slots) {
  std::vector<std::string> wires;
  std::vector<std::string_view> sub;
  for (const auto& [slot, idx] : slots) {
    sub.assign(1, args[0]);
    for (size_t i : idx) sub.push_back(args[static_cast<size_t>(keys[i])]);
    format_command(wires.emplace_back(), sub);
  }
  return wires;
}

// SCAN cursor: master index << 54 | that master's own cursor.
void ClusterLink::route_scan(Op& op, std::span<const std::string_view> args) {
  uint64_t cursor = 0;
  auto [p, ec] = std::from_chars(args[1].data(), args[1].data() + args[1].size(), cursor);
  op.waiting = 1;
  std::string wire;
  if (ec != std::errc() || p != args[1].data() + args[1].size()) {
    format_command(wire, args);  // not a number: the node answers Redis's error
    return send_part(op, 0, master_link(-1), std::move(wire), 0);
  }
  size_t m = static_cast<size_t>(cursor >> kCursorShift);
  if (m >= masters_.size()) {
    op.waiting = 0;
    op.reply = "-ERR invalid cursor\r\n";
    op.complete = true;
    return drain();
  }
  op.merge = Op::Merge::kScan;
  op.scan_master = static_cast<int>(m);
  std::string inner = std::to_string(cursor & kCursorMask);
  std::vector<std::string_view> sub(args.begin(), args.end());
  sub[1] = inner;
  format_command(wire, sub);
  send_part(op, 0, masters_[m], std::move(wire), 0);
}

void ClusterLink::send_part(Op& op, size_t index, L2Link* to, std::string wire, int redirects,
                            int tryagains) {
  if (to == nullptr) {
    last_error_ = "no master serves the slot";
    return part_done(*std::make_unique<Part>(*this, op, index, Endpoint{}, "", 0, 0), nullptr);
  }
  Endpoint at;
  for (auto& [name, link] : nodes_)
    if (link.get() == to) {
      size_t colon = name.rfind(':');
      at = Endpoint{false, name.substr(0, colon), std::stoi(name.substr(colon + 1))};
    }
  std::string copy = wire;  // the Part keeps it for a redirection
  to->send_formatted(copy, std::make_unique<Part>(*this, op, index, std::move(at),
                                                  std::move(wire), redirects, tryagains));
}

void ClusterLink::retry_parts() {
  std::vector<PartRetry> now;
  now.swap(part_retries_);
  for (PartRetry& p : now) {
    if (stopped_) {
      merge(*p.op, p.index, nullptr);
      continue;
    }
    send_part(*p.op, p.index, node(p.at.host, p.at.port), std::move(p.wire), 0, p.tryagains);
  }
}

void ClusterLink::part_done(Part& part, const redisReply* r) {
  Redirect rd;
  if (r == nullptr) {
    for (auto& [name, link] : nodes_)
      if (name == node_name(part.at.host, part.at.port)) last_error_ = link->last_error();
  } else if (r->type == REDIS_REPLY_ERROR && part.redirects < kMaxRedirects && !stopped_ &&
             parse_redirect(std::string_view(r->str, r->len), &rd)) {
    if (rd.host.empty()) rd.host = part.at.host;
    L2Link* to = node(rd.host, rd.port);
    if (rd.kind == Redirect::Kind::kMoved) {
      refresh_wanted_ = true;
      discover();
    } else {
      std::string_view asking[] = {"ASKING"};
      to->send(asking, nullptr);
    }
    return send_part(part.op, part.index, to, std::move(part.wire), part.redirects + 1,
                     part.tryagains);
  } else if (r->type == REDIS_REPLY_ERROR && part.op.retry_tryagain &&
             part.tryagains < kMaxTryAgain && !stopped_ &&
             std::string_view(r->str, r->len).starts_with("TRYAGAIN") && !part.at.host.empty()) {
    // Keys split by a migration: the same node again at the next tick (tick()).
    part_retries_.push_back(
        PartRetry{&part.op, part.index, part.at, std::move(part.wire), part.tryagains + 1});
    return;
  }
  merge(part.op, part.index, r);
}

void ClusterLink::merge(Op& op, size_t index, const redisReply* r) {
  if (op.merge == Op::Merge::kPass && op.waiting == 1 && !draining_ && fifo_.front().get() == &op) {
    // Its turn already (the usual case: one master, or replies in order): no copy.
    std::unique_ptr<Op> own = std::move(fifo_.front());
    fifo_.pop_front();
    draining_ = true;  // what its Completion sends and gets answered at once waits its turn
    if (own->done) own->done->on_reply(r);
    draining_ = false;
    return drain();
  }
  if (r == nullptr) {
    op.failed = true;
  } else {
    switch (op.merge) {
      case Op::Merge::kPass:
        op.reply = as_resp(r);
        break;
      case Op::Merge::kScan: {
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING) {
          op.reply = as_resp(r);
          break;
        }
        uint64_t next = std::strtoull(r->element[0]->str, nullptr, 10);
        size_t m = static_cast<size_t>(op.scan_master);
        if (next == 0)
          next = m + 1 < masters_.size() ? uint64_t{m + 1} << kCursorShift : 0;
        else
          next |= uint64_t{m} << kCursorShift;
        resp::write_array_header(op.reply, 2);
        resp::write_bulk(op.reply, std::to_string(next));
        write_reply(op.reply, r->element[1]);
        break;
      }
      case Op::Merge::kExec:
        for (size_t k = 0; k < op.positions[index].size(); ++k) {
          const size_t at = op.positions[index][k];
          const bool ok = r->type == REDIS_REPLY_ARRAY && r->elements == op.positions[index].size();
          const redisReply* e = ok ? r->element[k] : r;  // a failed EXEC: its elements fail
          if (e->type == REDIS_REPLY_INTEGER && (op.elements[at].empty() || op.sums[at])) {
            op.sums[at] = op.sums[at].value_or(0) + e->integer;  // a split DEL: summed
          } else if (op.elements[at].empty() || op.sums[at]) {
            op.sums[at].reset();
            op.elements[at] = as_resp(e);
          }
        }
        break;
      case Op::Merge::kSplit:
      case Op::Merge::kAll:
        if (r->type == REDIS_REPLY_ERROR) {
          if (op.error.empty()) op.error = as_resp(r);
        } else if (r->type == REDIS_REPLY_INTEGER) {
          op.shape = r->type;
          op.sum += r->integer;
        } else if (r->type == REDIS_REPLY_ARRAY && op.merge == Op::Merge::kSplit &&
                   r->elements == op.positions[index].size()) {
          op.shape = r->type;
          for (size_t k = 0; k < r->elements; ++k)
            op.elements[op.positions[index][k]] = as_resp(r->element[k]);
        } else if (r->type == REDIS_REPLY_ARRAY && op.merge == Op::Merge::kAll) {
          op.shape = r->type;
          for (size_t k = 0; k < r->elements; ++k) op.elements.push_back(as_resp(r->element[k]));
        } else if (r->type != REDIS_REPLY_NIL) {
          if (op.first.empty()) op.first = as_resp(r);
        } else if (op.shape == 0) {
          op.shape = REDIS_REPLY_NIL;
        }
        break;
    }
  }
  if (--op.waiting == 0) finish(op);
}

void ClusterLink::finish(Op& op) {
  if (op.merge == Op::Merge::kExec) {
    resp::write_array_header(op.reply, static_cast<int64_t>(op.elements.size()));
    for (size_t i = 0; i < op.elements.size(); ++i) {
      if (op.sums[i]) resp::write_integer(op.reply, *op.sums[i]);
      else op.reply += op.elements[i];
    }
  } else if (op.merge == Op::Merge::kSplit || op.merge == Op::Merge::kAll) {
    if (!op.error.empty()) {
      op.reply = op.error;
    } else if (op.shape == REDIS_REPLY_INTEGER) {
      resp::write_integer(op.reply, op.sum);
    } else if (op.shape == REDIS_REPLY_ARRAY) {
      resp::write_array_header(op.reply, static_cast<int64_t>(op.elements.size()));
      for (const std::string& e : op.elements) op.reply += e;
    } else if (!op.first.empty()) {
      op.reply = op.first;  // OK (every master said OK), or RANDOMKEY's first key
    } else {
      op.reply = "$-1\r\n";
    }
  }
  op.complete = true;
  drain();
}

// Answers the complete Ops at the front, in order. A Completion may send more (re-entrant):
// those queue behind.
void ClusterLink::drain() {
  if (draining_) return;
  draining_ = true;
  while (!fifo_.empty() && fifo_.front()->complete) {
    std::unique_ptr<Op> op = std::move(fifo_.front());
    fifo_.pop_front();
    if (!op->done) continue;
    if (op->failed) {
      op->done->on_reply(nullptr);
      continue;
    }
    redisReply* r = nullptr;
    redisReaderFeed(reader_, op->reply.data(), op->reply.size());
    if (redisReaderGetReply(reader_, reinterpret_cast<void**>(&r)) != REDIS_OK || r == nullptr) {
      redisReaderFree(reader_);  // cannot happen with our own RESP; start clean
      reader_ = make_reply_reader();
      last_error_ = "tiercache: could not rebuild a held cluster reply";
      op->done->on_reply(nullptr);
      continue;
    }
    op->done->on_reply(r);
    freeReplyObject(r);
  }
  draining_ = false;
}

// ---- MULTI ... EXEC: cluster_txn.cc ----

}  // namespace tiercache::sidecar::cluster
