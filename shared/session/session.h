// The connection commands, implemented once for both servers (tiercache-l2 and the sidecar):
// the per-client state they work on (Session), what differs between the servers (Host, an
// interface each server implements once), the checks Redis makes before running any command
// and MULTI's queueing rules (admit, queue_in_multi, take_transaction), and the commands
// themselves (run: PING, ECHO, SELECT, QUIT, AUTH, HELLO, RESET, CLIENT, COMMAND, MULTI,
// DISCARD, WATCH, UNWATCH), as redis-server 7.0 answers them. The parsing rules they use are in
// connection_commands.h.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/command/command_table.h"

namespace tiercache::session {

// What both servers keep per client for these commands. Each server's client type derives
// from it and adds its own state (subscriptions, watches, the L2 relay, ...).
struct Session {
  explicit Session(uint64_t client_id) : id(client_id) {}
  const uint64_t id;
  int db = 0;
  bool authenticated = false;
  std::string name;         // CLIENT SETNAME / HELLO SETNAME
  std::string addr = "?";   // peer, "ip:port" or "/unixsocket:0"
  std::string laddr = "?";  // local end
  int64_t created_ms = 0;
  int64_t last_interaction_ms = 0;
  bool no_evict = false;  // CLIENT NO-EVICT: shown as flag e (neither server evicts clients)
  bool in_multi = false;
  bool multi_dirty = false;  // a command was refused while queueing: EXEC answers EXECABORT
  std::vector<std::vector<std::string>> multi_queue;
  // CLIENT LIST's cmd=: the request's command as Redis's c->lastcmd ("get", "client|list", or
  // "NULL" when unknown). Set by note_command; points into static storage or last_command_buf.
  std::string_view last_command = "NULL";
  char last_command_buf[48];

  void note_command(const command::CommandSpec* spec, std::span<const std::string_view> args) {
    last_command = command::CommandTable::display_name(spec, args, last_command_buf);
  }
};

// A client's figures for its CLIENT INFO / LIST line that only its server knows.
struct ClientFigures {
  size_t sub = 0, psub = 0;  // subscribed channels, patterns
  size_t qbuf = 0;           // unparsed input bytes
  size_t omem = 0;           // output bytes not yet written
  size_t tot_mem = 0;
  std::string flags;              // flags beyond P (subscribed) and x (MULTI), e.g. tracking's t
  int64_t redir = -1;             // tracking redirection
};

// What differs between the servers. The sessions a host is handed are its own clients (it may
// cast them to its client type).
class Host {
 public:
  virtual ~Host() = default;
  virtual std::string_view server_name() const = 0;  // HELLO's and COMMAND DOCS' server
  virtual const command::CommandTable& commands() const = 0;
  virtual int databases() const = 0;
  // A Redis Cluster front (the sidecar in l2-mode cluster): SELECT of a db other than 0 is refused.
  virtual bool cluster_mode() const { return false; }
  virtual std::string_view requirepass() const = 0;
  virtual int64_t now_ms() const = 0;

  // Sets Session::authenticated and whatever else depends on it (the parser's limits).
  virtual void set_authenticated(Session& s, bool yes) = 0;
  // Whether the client is in RESP2 subscribed mode (PING's reply changes).
  virtual bool subscribed(const Session& s) const = 0;
  virtual void close_after_reply(Session& s) = 0;
  virtual void close(Session& s) = 0;
  // RESET's part that is the server's own: subscriptions, tracking, watched keys.
  virtual void reset(Session& s) = 0;
  // WATCH outside MULTI: watches the keys and replies; false when the reply is an error.
  virtual bool watch(Session& s, std::span<const std::string_view> keys, std::string& out) = 0;
  // Forgets the client's watched keys (UNWATCH, DISCARD, EXEC, RESET).
  virtual void unwatch(Session& s) = 0;
  virtual ClientFigures figures(const Session& s) const = 0;
  // Every client, in ascending id (CLIENT LIST, CLIENT KILL).
  virtual void for_each_client(const std::function<void(Session&)>& f) = 0;
  // CLIENT subcommands only this server has (the L2's TRACKING ...): their lower-case names,
  // their HELP lines, and the handler, which is called only with a name from the list.
  virtual std::span<const std::string_view> client_subcommands() const { return {}; }
  virtual std::span<const std::string_view> client_help() const { return {}; }
  virtual bool client_subcommand(Session& s, std::span<const std::string_view> args,
                                 std::string& out);
};

// The connection commands by id, read from the command table once (a table of rows, no name
// comparisons at dispatch).
enum class Command : uint8_t {
  kNone,  // not a connection command
  kPing,
  kEcho,
  kSelect,
  kQuit,
  kAuth,
  kHello,
  kReset,
  kClient,
  kCommand,
  kMulti,
  kDiscard,
  kWatch,
  kUnwatch,
};
struct CommandRow {
  std::string_view name;
  Command id;
};
inline constexpr CommandRow kCommandRows[] = {
    {"ping", Command::kPing},       {"echo", Command::kEcho},       {"select", Command::kSelect},
    {"quit", Command::kQuit},       {"auth", Command::kAuth},       {"hello", Command::kHello},
    {"reset", Command::kReset},     {"client", Command::kClient},   {"command", Command::kCommand},
    {"multi", Command::kMulti},     {"discard", Command::kDiscard}, {"watch", Command::kWatch},
    {"unwatch", Command::kUnwatch},
};

class Commands {
 public:
  explicit Commands(const command::CommandTable& table);
  Command find(const command::CommandSpec& spec) const { return ids_[spec.id]; }

 private:
  std::vector<Command> ids_;
};

// Runs connection command `id` (not kNone). Returns false when the reply is an error.
bool run(Command id, Host& host, Session& s, std::span<const std::string_view> args,
         std::string& out);

// --- The checks before any command, and MULTI's queue (Redis's processCommand) ---

// An unknown command that is the first line of an HTTP request (POST, Host:): Redis's
// cross-protocol scripting defence closes the connection without a reply.
bool cross_protocol_attack(std::string_view name);

// Refuses the request (spec: its command, nullptr when unknown), as Redis's rejectCommand:
// writes `error` and, inside MULTI, marks the transaction so that EXEC answers EXECABORT. A
// refused EXEC (kExec) instead ends the transaction and unwatches, answering "EXECABORT
// Transaction discarded because of: <error without its ERR>".
void reject(Host& host, Session& s, const command::CommandSpec* spec, std::string_view error,
            std::string& out);
// Arity (a container's subcommand's too: "config|get"), authentication and the table's
// kNoMulti, in Redis 7.0's order. False when refused (see reject).
bool admit(Host& host, Session& s, const command::CommandSpec& spec,
           std::span<const std::string_view> args, std::string& out);
// In RESP2 subscribed mode only the kSubscribed commands run. False when refused.
bool admit_subscribed(Host& host, Session& s, const command::CommandSpec& spec, bool subscribed,
                      std::string& out);
// Inside MULTI, queues the request and answers QUEUED, unless the table says it runs at once
// (kNotQueued: MULTI, EXEC, DISCARD, WATCH, QUIT, RESET). True when queued.
bool queue_in_multi(Session& s, const command::CommandSpec& spec,
                    std::span<const std::string_view> args, std::string& out);

// EXEC's common part: kNotInMulti ("EXEC without MULTI" written), kAborted (a queued command
// was refused: EXECABORT written, the transaction dropped), or kRun with the queue moved to
// *queue; the session is out of MULTI in both latter cases (the server then unwatches).
enum class ExecStart { kNotInMulti, kAborted, kRun };
ExecStart take_transaction(Session& s, std::vector<std::vector<std::string>>* queue,
                           std::string& out);

}  // namespace tiercache::session
