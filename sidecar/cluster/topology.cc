// CLUSTER SLOTS and MOVED/ASK parsing. The reply shape (Redis 7.0, src/cluster.c
// clusterReplyMultiBulkSlots): an array of ranges, each [first, last, master, replica...], each
// node [host, port, id, metadata...] where metadata (7.0) is an array this parser skips.
#include "sidecar/cluster/topology.h"

#include <algorithm>
#include <charconv>

namespace tiercache::sidecar::cluster {
namespace {

using resp::ReplyToken;
using resp::ReplyType;

// A cursor over the pre-order token list, with subtree skipping.
struct Cursor {
  std::span<const ReplyToken> t;
  size_t i = 0;

  const ReplyToken* next() { return i < t.size() ? &t[i++] : nullptr; }
  bool skip() {  // the whole subtree at i
    int64_t pending = 1;
    while (pending > 0) {
      const ReplyToken* k = next();
      if (k == nullptr) return false;
      --pending;
      if (k->type == ReplyType::kArray) pending += k->integer;
    }
    return true;
  }
};

std::string parse_node(Cursor& c, std::string_view answered_by, NodeAddress* node) {
  const ReplyToken* arr = c.next();
  if (arr == nullptr || arr->type != ReplyType::kArray || arr->integer < 2)
    return "a node is not an array of at least host and port";
  const ReplyToken* host = c.next();
  const ReplyToken* port = c.next();
  if (host == nullptr || port == nullptr) return "truncated node";
  if (host->type != ReplyType::kBulk && host->type != ReplyType::kSimple)
    return "a node's host is not a string";
  if (port->type != ReplyType::kInteger || port->integer < 1 || port->integer > 65535)
    return "a node's port is not in 1..65535";
  if (host->text == "?") return "a node's endpoint is unknown (\"?\")";
  node->host = std::string(host->text.empty() ? answered_by : host->text);
  node->port = static_cast<int>(port->integer);
  node->id.clear();
  for (int64_t e = 2; e < arr->integer; ++e) {
    if (e == 2 && c.i < c.t.size() && c.t[c.i].type == ReplyType::kBulk) {
      node->id = std::string(c.next()->text);
    } else if (!c.skip()) {
      return "truncated node";
    }
  }
  return "";
}

}  // namespace

size_t Topology::slots_of(int m) const {
  return static_cast<size_t>(std::count(slot_master_.begin(), slot_master_.end(), m));
}

std::string parse_cluster_slots(std::span<const ReplyToken> tokens, std::string_view answered_by,
                                Topology* out) {
  *out = Topology();
  Cursor c{tokens};
  const ReplyToken* top = c.next();
  if (top == nullptr || top->type != ReplyType::kArray) return "CLUSTER SLOTS did not answer an array";
  for (int64_t r = 0; r < top->integer; ++r) {
    const ReplyToken* range = c.next();
    if (range == nullptr || range->type != ReplyType::kArray || range->integer < 3)
      return "a slot range is not an array of first, last and a master";
    const ReplyToken* first = c.next();
    const ReplyToken* last = c.next();
    if (first == nullptr || last == nullptr || first->type != ReplyType::kInteger ||
        last->type != ReplyType::kInteger || first->integer < 0 || last->integer >= kSlots ||
        first->integer > last->integer)
      return "a slot range's bounds are not 0 <= first <= last <= 16383";
    SlotRange sr;
    sr.first = static_cast<uint16_t>(first->integer);
    sr.last = static_cast<uint16_t>(last->integer);
    for (int64_t n = 2; n < range->integer; ++n) {
      NodeAddress node;
      if (std::string err = parse_node(c, answered_by, &node); !err.empty()) return err;
      if (n == 2) {
        sr.master = std::move(node);
      } else {
        sr.replicas.push_back(std::move(node));
      }
    }
    auto it = std::find(out->masters_.begin(), out->masters_.end(), sr.master);
    int16_t m = static_cast<int16_t>(it - out->masters_.begin());
    if (it == out->masters_.end()) {
      if (out->masters_.size() >= static_cast<size_t>(kSlots)) return "too many masters";
      out->masters_.push_back(sr.master);
    }
    for (int s = sr.first; s <= sr.last; ++s) {
      if (out->slot_master_[s] != Topology::kUnassigned) return "slot ranges overlap";
      out->slot_master_[s] = m;
      ++out->assigned_;
    }
    out->ranges_.push_back(std::move(sr));
  }
  if (c.i != tokens.size()) return "trailing tokens after the CLUSTER SLOTS reply";
  return "";
}

bool parse_redirect(std::string_view error, Redirect* out) {
  Redirect r;
  if (error.starts_with("MOVED ")) {
    r.kind = Redirect::Kind::kMoved;
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    r.kind = Redirect::Kind::kAsk;
    error.remove_prefix(4);
  } else {
    return false;
  }
  size_t space = error.find(' ');
  if (space == std::string_view::npos) return false;
  std::string_view slot = error.substr(0, space), addr = error.substr(space + 1);
  unsigned v = 0;
  auto [p, ec] = std::from_chars(slot.data(), slot.data() + slot.size(), v);
  if (ec != std::errc() || p != slot.data() + slot.size() || slot.empty() || v >= kSlots)
    return false;
  r.slot = static_cast<uint16_t>(v);
  size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view port = addr.substr(colon + 1);
  int pv = 0;
  auto [pp, pec] = std::from_chars(port.data(), port.data() + port.size(), pv);
  if (pec != std::errc() || pp != port.data() + port.size() || port.empty() || pv < 1 ||
      pv > 65535)
    return false;
  r.port = pv;
  r.host = std::string(addr.substr(0, colon));
  if (r.host.find(' ') != std::string::npos) return false;
  *out = std::move(r);
  return true;
}

}  // namespace tiercache::sidecar::cluster
