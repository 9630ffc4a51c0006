// Clients blocked by BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX and BZMPOP:
// who waits on which key (FIFO per key), the keys made ready by the last command, serving them
// after that command, deadlines on one timer, CLIENT UNBLOCK, and clients that go away while
// blocked (Redis 7.0's blocked.c and timeout.c, for lists and sorted sets).
//
// Flow: a blocking handler that finds nothing to pop calls block(); the client's connection is
// suspended (its further requests wait in its read buffer). Every modification of a key some
// client waits on marks the key ready (this is a keyspace listener). After each top-level
// command (a whole EXEC or script included) the server calls serve_ready_keys(): for each ready
// key, in the order it became ready, the clients blocked on it are served first-blocked first
// while the key holds the type they wait for and has elements. A served, timed-out or
// unblocked client resumes its queued requests from the loop's prepare phase
// (resume_unblocked()), as Redis's processUnblockedClients in beforeSleep.
#pragma once

#include <uv.h>

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "l2/keyspace/keyspace.h"
#include "shared/command/command_table.h"
#include "shared/net/timer.h"

namespace tiercache::l2 {

class Client;
class Server;
struct CommandContext;
struct BlockedOp;

// Serves one blocked client from `key`, which holds the type the client waits for and has
// elements: pops, writes the reply to ctx.out (ctx.client is the blocked client) and signals
// the keys it changed. Provided by the command's handler file.
using ServeBlocked = void (*)(CommandContext& ctx, const BlockedOp& op, std::string_view key);

// What a blocked client waits to do, with owned copies of what it needs from its request.
struct BlockedOp {
  ValueType type = ValueType::kList;  // the type its keys must hold to serve it
  std::vector<std::string> keys;      // in request order, without duplicates
  std::string target;                 // BLMOVE/BRPOPLPUSH destination
  bool has_target = false;
  bool from_head = true;  // lists: LEFT; sorted sets: MIN
  bool to_head = true;    // BLMOVE's destination end
  int64_t count = -1;     // BLMPOP/BZMPOP COUNT; -1 for the single-element forms
  int64_t deadline_ms = 0;  // unix ms; 0 waits forever
  const command::CommandSpec* spec = nullptr;  // the blocking command
  ServeBlocked serve = nullptr;
};

// Blocking timeouts as Redis parses them (getTimeoutFromObjectOrReply, seconds as a float):
// the deadline in unix ms (0: forever), or the error text to answer.
struct TimeoutArg {
  int64_t deadline_ms = 0;
  std::string_view error;  // empty when valid
};
TimeoutArg parse_timeout(std::string_view arg, int64_t now_ms);

// For the handlers: blocks ctx.client on `keys` (duplicates dropped) with op, whose type, ends,
// count, target, deadline and serve function the caller set; or, where a client may not block
// (inside MULTI/EXEC or a script: Redis's CLIENT_DENY_BLOCKING), answers the timeout's nil.
bool may_block(const CommandContext& ctx);
void block_or_nil(CommandContext& ctx, std::span<const std::string_view> keys, BlockedOp op);

class Blocking : public KeyspaceListener {
 public:
  explicit Blocking(Server& server);
  ~Blocking() override;
  Blocking(const Blocking&) = delete;
  Blocking& operator=(const Blocking&) = delete;

  // Blocks c (a socket client, not blocked yet) until one of op.keys of db c.db can serve it,
  // op.deadline_ms passes, CLIENT UNBLOCK or its connection closes. The caller writes no reply.
  void block(Client& c, BlockedOp op);
  size_t blocked_clients() const { return blocked_.size(); }

  // After each top-level command: serves the clients waiting on keys made ready meanwhile
  // (also keys made ready by the serving itself, such as a BLMOVE's destination).
  bool has_ready_keys() const { return !ready_.empty(); }
  void serve_ready_keys();

  // CLIENT UNBLOCK id [TIMEOUT|ERROR]: false when that client is not blocked.
  bool unblock(uint64_t client_id, bool error);
  // The client's connection closed: forget it without a reply.
  void forget(Client& c);
  // From the loop's prepare phase: clients unblocked since run their queued requests.
  void resume_unblocked();
  // Closes the timer (server shutdown). Blocked clients are closed by the server.
  void close();

  // KeyspaceListener: a modified key someone waits on becomes ready.
  void on_key_modified(int db, std::string_view key, ModifiedBy by) override;
  void on_flushed(int) override {}

 private:
  using DbKey = std::pair<int, std::string>;
  // Orders DbKeys and finds them by (db, string_view) without a copy.
  struct DbKeyLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      if (a.first != b.first) return a.first < b.first;
      return std::string_view(a.second) < std::string_view(b.second);
    }
  };
  struct Blocked {
    Client* client;
    int db;
    BlockedOp op;
  };
  // Removes c's entries (keys, deadline) and the blocked flag; queues it to resume.
  void unblock_client(uint64_t id);
  void serve_key(const DbKey& key);
  void arm_timer();
  void expire_deadlines();

  Server& server_;
  std::unordered_map<uint64_t, Blocked> blocked_;         // by client id
  std::map<DbKey, std::list<uint64_t>, DbKeyLess> waiters_;  // key -> client ids, FIFO
  std::set<std::pair<int64_t, uint64_t>> deadlines_;        // (deadline ms, client id)
  std::vector<DbKey> ready_;                                // in the order they became ready
  std::set<DbKey, DbKeyLess> ready_set_;
  std::vector<uint64_t> unblocked_;  // to resume before the loop sleeps
  net::OneShotTimer timer_;          // one for every deadline, armed for the earliest
  int64_t timer_due_ms_ = 0;         // deadline the timer is armed for (0: not armed)
};

}  // namespace tiercache::l2
