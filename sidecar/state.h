// Per-connection state of a sidecar client, and the base of every L2 request the sidecar has
// in flight (Op: a Completion owned by the L2 link until its reply arrives).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "shared/session/session.h"
#include "sidecar/link/dedicated_link.h"
#include "sidecar/link/hiredis_link.h"
#include "sidecar/link/l2_link.h"

namespace tiercache::sidecar {

class Sidecar;

// session::Session's state (id: the connection's, db, auth, name, MULTI queue) plus the
// client's pub/sub relay.
struct ClientState : session::Session {
  explicit ClientState(uint64_t conn_id) : session::Session(conn_id) {}
  Sidecar* sidecar = nullptr;
  // Client pub/sub: a dedicated L2 connection in subscribed mode (pubsub_relay.cc).
  std::unique_ptr<HiredisLink> pubsub;
  std::vector<std::vector<std::string>> pubsub_waiting;  // sent once it connects
  int64_t subscriptions = 0;
  // What the relay is subscribed to once the L2 has run everything sent (pubsub_relay.cc);
  // confirmations asked for and received so far; local replies, each written once the
  // confirmations asked for before it are in (order).
  std::set<std::string> relay_channels, relay_patterns;
  uint64_t relay_asked = 0, relay_received = 0;
  std::deque<std::pair<uint64_t, std::string>> relay_local;
  // The client's own L2 connection (pinned.cc), opened by its first blocking command or WATCH
  // and kept until it disconnects (or the connection is lost and it needs one again).
  std::unique_ptr<DedicatedLink> dedicated;
  bool watching = false;  // WATCH sent on `dedicated`; EXEC, DISCARD, UNWATCH, RESET end it
  // A blocking command or WATCH waiting for the client's earlier replies (held, pinned.cc).
  std::vector<std::string> held;
  // Pinned: every command that reaches the L2 goes over `dedicated`, in order (see pinned.cc).
  bool pinned() const { return dedicated && (watching || dedicated->in_flight() > 0); }
};

// An L2 request in flight on behalf of the sidecar. Refers to connections by id only: a client
// that closed meanwhile is simply not answered.
struct Op : Completion {
  explicit Op(Sidecar& sidecar) : s(sidecar) {}
  Sidecar& s;
};

// Relays the L2's reply into a client's deferred reply slot (passthrough; dispatch.cc).
struct RelayOp : Op {
  uint64_t conn_id, ticket;
  RelayOp(Sidecar& s, uint64_t c, uint64_t t) : Op(s), conn_id(c), ticket(t) {}
  void on_reply(const redisReply* r) override;
};

// A GET miss in flight, owned by Sidecar::flights_ under its id; later misses of the same
// (db, key) join it (single flight) while Sidecar::joinable_ points at it, i.e. until it ends
// or its key is invalidated.
struct Flight {
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

// An MGET with some keys missing from L1, owned by Sidecar::mgets_ under its id: one MGET for
// the misses plus a PTTL each, pipelined; the last PTTL reply answers the client.
struct MgetState {
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

// An EXISTS with some keys unknown to L1, owned by Sidecar::exists_ under its id: one EXISTS
// per unknown key, pipelined, so that each key found absent can become a negative entry; the
// last reply answers the client with the L1 count plus the L2's.
struct ExistsState {
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

}  // namespace tiercache::sidecar
