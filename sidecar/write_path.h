// The write path: the one place a write reaches the L2. Plain writes are batched per loop
// tick; a batch, and a client's MULTI/EXEC, are each committed as
//     MULTI <writes> EXEC
// With the tracking source the L2 itself reports the writes to every sidecar. With the publish
// fallback (an L2 without CLIENT TRACKING) the commit carries the invalidation:
//     MULTI <writes> PUBLISH <channel> <invalidation message> EXEC
// so that a write and its invalidation commit together at the L2 (docs/coherence.md). Keys are
// dropped from L1 before sending (read-your-writes on this host) and again when the commit
// answers (a fill that raced with the write must not survive it). Also sends the source's
// heartbeat (invalidation/source.h).
// A client pinned to its own L2 connection (pinned.cc: WATCH, a blocking command in flight)
// commits its writes and its EXEC on that link instead, with the same MULTI/EXEC and the same
// invalidation; only the publish fallback's message then goes out after the commit, on the
// shared link (committed_elsewhere), since the bus's sequence numbers must stay in the order of
// one connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/command/command_table.h"
#include "sidecar/invalidation/message.h"
#include "shared/net/connection.h"
#include "sidecar/link/l2_link.h"

namespace tiercache::sidecar {

class Sidecar;

// True for commands whose keys the sidecar invalidates: writes, and EVAL/EVALSHA (their
// declared keys count as written).
bool is_write(const command::CommandSpec& spec);

// Appends the invalidation a write of `spec` in `db` causes (its keys, or a flush) to *groups;
// the keys of a command that may write another db (the table's kOtherDb: MOVE, COPY ... DB)
// are dropped in every db.
void write_groups(int db, const command::CommandSpec& spec, std::span<const std::string_view> args,
                  std::vector<invalidation::Group>* groups);

class WritePath {
 public:
  // Writes that join one batch at most (then it is sent at once).
  static constexpr size_t kMaxBatch = 256;

  explicit WritePath(Sidecar& sidecar) : s_(sidecar) {}
  WritePath(const WritePath&) = delete;
  WritePath& operator=(const WritePath&) = delete;

  // A plain write of connection c in db: joins the batch, answered in c's order when the
  // batch commits (or with the L2 error).
  // With `pinned` (the client's dedicated link), committed on it at once, on its own.
  void write(net::Connection& c, int db, const command::CommandSpec& spec,
             std::span<const std::string_view> args, L2Link* pinned = nullptr);
  // EXEC of c's queued commands (MULTI ... EXEC): committed on its own, after the batch,
  // answered as one array; with the publish source, an invalidation is published only if
  // something in it writes. With `pinned`, on the client's dedicated link (where its WATCH is:
  // a nil EXEC then wrote nothing).
  void exec(net::Connection& c, int db, const std::vector<std::vector<std::string>>& queue,
            L2Link* pinned = nullptr);
  // A write that committed outside a MULTI/EXEC of this path (a blocking pop on a dedicated
  // link) or on a dedicated link: drops the keys from L1 and, with the publish source,
  // publishes them on the shared link (after the write, not with it: docs/coherence.md).
  void committed_elsewhere(std::vector<invalidation::Group> groups);
  // Sends the batch now: at the end of the loop tick, before any other L2 request (request
  // order on the wire), at shutdown.
  void flush();
  // Sends the invalidation source's heartbeat (after the pending batch); nothing when L2 or the
  // source is down.
  void heartbeat();

 private:
  // Who a commit answers: `count` results from EXEC's array at `first`; as_array = as one
  // array reply (EXEC), else the single result (a batched write).
  struct Waiter {
    uint64_t conn_id;
    uint64_t ticket;
    size_t first;
    size_t count;
    bool as_array;
  };
  class CommitDone;

  // On `pinned` (a dedicated link, already in db) or else the shared link.
  void commit(L2Link* pinned, int db, std::vector<std::string> wires,
              std::vector<invalidation::Group> groups, bool publish, std::vector<Waiter> waiters);

  Sidecar& s_;
  int batch_db_ = 0;
  std::vector<std::string> batch_wires_;  // RESP-formatted writes
  std::vector<Waiter> batch_waiters_;
  std::vector<invalidation::Group> batch_groups_;
};

}  // namespace tiercache::sidecar
