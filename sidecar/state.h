// Per-connection state of a sidecar client and the operations the sidecar keeps in flight.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shared/invalidation/message.h"
#include "sidecar/upstream.h"

namespace tiercache::sidecar {

class Sidecar;

struct ClientState {
  Sidecar* sidecar = nullptr;
  uint64_t conn_id = 0;
  int db = 0;
  bool authenticated = true;
  std::string name;
  std::string addr = "/unixsocket:0";
  int64_t created_ms = 0;
  int64_t last_ms = 0;
  bool in_multi = false;
  bool multi_dirty = false;
  std::vector<std::vector<std::string>> queue;  // MULTI
  // Client pub/sub: a dedicated L2 connection in subscribed mode.
  std::unique_ptr<Upstream> pubsub;
  std::vector<std::vector<std::string>> pubsub_waiting;  // sent once it connects
  int64_t subscriptions = 0;
};

// An L2 request in flight. Owned by the upstream callback: deleted after on_reply.
struct Op {
  virtual ~Op() = default;
  // reply is nullptr when L2 failed (down, timeout, shutdown).
  virtual void on_reply(Sidecar& s, const redisReply* reply) = 0;
};

// A GET miss in flight; later misses of the same (db, key) join it (single flight).
struct Flight {
  int db = 0;
  std::string key;
  uint64_t stamp = 0;
  bool detached = false;  // invalidated while in flight: no longer joinable
  bool failed = false;
  bool nil = false;
  std::string value;
  std::string error;                                   // an error reply from L2 (e.g. WRONGTYPE)
  std::vector<std::pair<uint64_t, uint64_t>> waiters;  // (connection id, ticket)
};

}  // namespace tiercache::sidecar
