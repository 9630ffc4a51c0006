// Per-connection state of a sidecar client, and the base of the L2 requests the sidecar has in
// flight on behalf of its clients (Op: a Completion owned by the L2 link until its reply
// arrives; the read path's own are in read_path.cc).
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
  // l2-mode cluster: the master `dedicated` was opened to (the one serving its first key).
  std::string dedicated_at;
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

}  // namespace tiercache::sidecar
