// The sidecar's half of the command table: which handler serves each command. Commands with
// no row here are classified by their flags (writes to the write path, the rest passed
// through to the L2); the connection commands (session::kCommandRows) go to shared/session.
// Adding a command the sidecar serves itself: a row here, a case in dispatch.cc, a test.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "shared/command/command_table.h"

namespace tiercache::sidecar {

enum class Handler : uint8_t {
  kPassthrough,  // relayed to the L2, reply relayed in order
  kWrite,        // write path: batched, committed with its invalidation
  kGet,          // read path
  kMget,
  kExists,
  kStrlen,
  kExec,
  kSubscribe,    // (P)SUBSCRIBE: the client's own subscribed L2 connection
  kUnsubscribe,  // (P)UNSUBSCRIBE: the same
  kInfo,
  kSession,  // a connection command (PING, AUTH, CLIENT, MULTI ...): shared/session runs it
  kBlocking,  // BLPOP & co (the table's blocking flag): over the client's own L2 connection
              // (pinned.cc)
  kNotRelayed,  // SHUTDOWN: a client of one host must not stop the L2 every host shares
};

// Sidecar-only rules on top of the shared flags.
enum HandlerFlag : uint8_t {
  kRefusedInMulti = 1u << 0,  // inside MULTI: an error (the sidecar cannot queue it)
};

struct HandlerRow {
  std::string_view name;
  Handler handler;
  uint8_t flags = 0;
};

inline constexpr HandlerRow kHandlerRows[] = {
    {"get", Handler::kGet},
    {"mget", Handler::kMget},
    {"exists", Handler::kExists},
    {"strlen", Handler::kStrlen},
    {"exec", Handler::kExec},
    {"subscribe", Handler::kSubscribe, kRefusedInMulti},
    {"psubscribe", Handler::kSubscribe, kRefusedInMulti},
    {"unsubscribe", Handler::kUnsubscribe, kRefusedInMulti},
    {"punsubscribe", Handler::kUnsubscribe, kRefusedInMulti},
    {"pubsub", Handler::kPassthrough, kRefusedInMulti},
    {"info", Handler::kInfo},
    // SELECT inside MULTI would change the db of the commands queued after it, which EXEC
    // sends in the client's db of the time of EXEC.
    {"select", Handler::kSession, kRefusedInMulti},
    {"shutdown", Handler::kNotRelayed},
};

// Handler and sidecar flags per command, indexed by CommandSpec::id. Built once at start-up
// (shared/session's connection commands get kSession, the rows above override); aborts on a
// row naming a command the table does not have.
class HandlerTable {
 public:
  explicit HandlerTable(const command::CommandTable& table);
  Handler handler(const command::CommandSpec& spec) const { return rows_[spec.id].handler; }
  uint8_t flags(const command::CommandSpec& spec) const { return rows_[spec.id].flags; }

 private:
  struct Entry {
    Handler handler;
    uint8_t flags;
  };
  std::vector<Entry> rows_;
};

}  // namespace tiercache::sidecar
