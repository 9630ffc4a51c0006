// Lua 5.1 scripting for tiercache-l2, as Redis does it: one sandboxed interpreter, a cache of
// compiled scripts keyed by the SHA-1 of their text, redis.call/pcall bridged to the server's
// own dispatcher through an internal client, a memory cap, and busy-script handling (past
// lua-time-limit the loop keeps serving other clients, who get -BUSY, and SCRIPT KILL works).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shared/resp/reply_parser.h"

struct lua_State;
struct lua_Debug;

namespace tiercache::l2 {
class Client;
class Server;
struct CommandContext;
}  // namespace tiercache::l2

namespace tiercache::l2::scripting {

// Redis 7.0's answer (without '-') to commands while an EVAL is busy.
inline constexpr std::string_view kBusyError =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

// Owned by the Server (one per process); every method runs on the loop thread. Scripts run to
// completion inside eval() (atomically: nothing else touches the keyspace meanwhile); only when
// one runs past lua-time-limit does eval() let the loop run nested, for other clients to be
// answered -BUSY and for SCRIPT KILL.
class LuaEngine {
 public:
  explicit LuaEngine(Server& server);
  ~LuaEngine();
  LuaEngine(const LuaEngine&) = delete;
  LuaEngine& operator=(const LuaEngine&) = delete;

  // EVAL/EVALSHA/EVAL_RO/EVALSHA_RO: ctx.args = name, script-or-sha, numkeys, keys..., args...
  // Writes the reply (or the error) to ctx.out.
  void eval(CommandContext& ctx, bool by_sha, bool read_only);

  // SCRIPT LOAD: compiles and caches body; on success writes its sha to sha_out[0..40).
  // False with *error (the full error line without '-') when it does not compile.
  bool load(std::string_view body, char sha_out[40], std::string* error);
  bool exists(std::string_view sha) const;
  // SCRIPT FLUSH: forgets every cached script and starts a fresh interpreter.
  void flush();

  enum class KillResult { kNotBusy, kUnkillable, kKilled };
  // SCRIPT KILL: a running script that has not written is stopped with an error.
  KillResult kill();

  // A script is executing (cron must not run: it would break the script's atomicity).
  bool running() const { return running_; }
  // A script has run past lua-time-limit: other clients are answered kBusyError, but for the
  // table's kAllowBusy commands (SHUTDOWN only with NOSAVE).
  bool timed_out() const { return running_ && timed_out_; }
  // The client through which scripts run commands (never answered -BUSY).
  const Client* script_client() const { return internal_; }
  // The client whose EVAL is running (nullptr when none).
  Client* caller() const { return running_ ? caller_ : nullptr; }

  size_t memory_used() const { return mem_used_; }
  size_t cached_scripts() const { return scripts_.size(); }

 private:
  struct ShaHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct ShaEq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  };

  static void* lua_alloc(void* ud, void* ptr, size_t osize, size_t nsize);
  static void hook(lua_State* L, lua_Debug* ar);
  static int msg_handler(lua_State* L);
  static int redis_call(lua_State* L);
  static int redis_pcall(lua_State* L);
  static LuaEngine* from(lua_State* L);

  void open_state();
  void close_state();
  // Compiles body as script `sha` and caches it; returns its registry reference or -1 with the
  // error text in *error.
  int compile(std::string_view body, std::string_view sha, std::string* error);
  void run(CommandContext& ctx, int ref, std::string_view sha, int64_t numkeys, bool read_only);
  int call(lua_State* L, bool raise);
  void check_time();
  void write_error_reply(std::string& out, int status, std::string_view sha);

  Server& server_;
  lua_State* L_ = nullptr;
  Client* internal_ = nullptr;
  std::unordered_map<std::string, int, ShaHash, ShaEq> scripts_;  // sha -> registry ref
  int globals_ref_ = -1;     // the real globals table (KEYS and ARGV are set in it)
  int last_error_ref_ = -1;  // the last error redis.call raised (kept as-is by the handler)
  int run_ref_ = -1;         // the C function that runs a script (see run())
  int handler_ref_ = -1;     // msg_handler, as a Lua value
  size_t mem_used_ = 0;
  int gc_count_ = 0;

  // The running script.
  bool running_ = false;
  bool timed_out_ = false;
  bool killed_ = false;
  bool wrote_ = false;
  bool read_only_ = false;
  Client* caller_ = nullptr;
  uint64_t start_ms_ = 0;
  uint64_t last_events_ms_ = 0;

  // Scratch reused by every redis.call.
  std::vector<std::string_view> call_args_;
  std::vector<std::string> call_numbers_;
  std::vector<resp::ReplyToken> tokens_;
};

}  // namespace tiercache::l2::scripting
