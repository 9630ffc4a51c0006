// What a sidecar knows of a Redis Cluster: which master serves each hash slot (with its
// replicas), read from a CLUSTER SLOTS reply, and the redirections (MOVED, ASK) a node answers
// when it does not serve a key's slot. Parsers only: they take what the L2 answered and build
// values; the router that keeps one connection per master and refreshes the topology is built
// on them. Both parsers are fuzzed (tests/fuzz/cluster_topology_fuzz.cc).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/resp/reply_parser.h"
#include "sidecar/cluster/slot.h"

namespace tiercache::sidecar::cluster {

struct NodeAddress {
  std::string host;
  int port = 0;
  std::string id;  // the node id (40 hex characters), empty if the reply did not carry one
  bool operator==(const NodeAddress& o) const { return host == o.host && port == o.port; }
};

struct SlotRange {
  uint16_t first = 0, last = 0;
  NodeAddress master;
  std::vector<NodeAddress> replicas;
};

class Topology {
 public:
  Topology() { slot_master_.fill(kUnassigned); }

  const std::vector<NodeAddress>& masters() const { return masters_; }
  const std::vector<SlotRange>& ranges() const { return ranges_; }
  // The index into masters() of the master serving slot, or -1 if no node serves it.
  int master_of(uint16_t slot) const { return slot_master_[slot]; }
  // Slots served by the master at index m (what a failover of that master affects).
  size_t slots_of(int m) const;
  // O(1): asked on every CLUSTER SLOTS reply (ClusterLink::on_slots).
  bool covers_all_slots() const { return assigned_ == static_cast<size_t>(kSlots); }

 private:
  friend std::string parse_cluster_slots(std::span<const resp::ReplyToken>, std::string_view,
                                         Topology*);
  static constexpr int16_t kUnassigned = -1;
  std::vector<NodeAddress> masters_;
  std::vector<SlotRange> ranges_;  // in the order of the reply
  std::array<int16_t, kSlots> slot_master_;
  size_t assigned_ = 0;  // slots with a master (the parser refuses overlaps)
};

// Parses a CLUSTER SLOTS reply (the tokens resp::parse_reply made of it). A node whose address
// is empty (Redis: "the endpoint of the node that answered") gets answered_by. Returns "" and
// fills *out, or an error text naming what is wrong (*out is then unspecified).
std::string parse_cluster_slots(std::span<const resp::ReplyToken> tokens,
                                std::string_view answered_by, Topology* out);

struct Redirect {
  enum class Kind { kMoved, kAsk } kind = Kind::kMoved;
  uint16_t slot = 0;
  std::string host;
  int port = 0;
};

// Parses an error reply's text (without the '-') "MOVED <slot> <host>:<port>" or "ASK ...";
// false if it is not a well-formed redirection. The host may be an IPv6 address (the port is
// after the last ':') or empty (the node that answered, as in Redis 7's MOVED with an unknown
// endpoint: the caller substitutes it).
bool parse_redirect(std::string_view error, Redirect* out);

}  // namespace tiercache::sidecar::cluster
