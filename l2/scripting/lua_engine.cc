// The Lua engine of tiercache-l2 (see lua_engine.h).
//
// Every step that allocates on the Lua heap runs under protection (lua_cpcall), so an
// allocation refused by the memory cap becomes an error reply, never a Lua panic.
#include "l2/scripting/lua_engine.h"

#include <time.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <lua.hpp>

#include "l2/client.h"
#include "l2/scripting/lua_convert.h"
#include "l2/scripting/lua_sandbox.h"
#include "l2/server.h"
#include "shared/log/log.h"
#include "shared/resp/reply_writer.h"
#include "shared/util/numbers.h"
#include "shared/util/sha1.h"

namespace tiercache::l2::scripting {
namespace {

constexpr int kHookInstructions = 100000;   // as Redis: check the clock every 100k instructions
constexpr uint64_t kEventsIntervalMs = 50;  // past the limit, serve other clients this often
constexpr int kGcPeriod = 50;               // a GC step every 50 scripts, as Redis
constexpr std::string_view kKilledError = "ERR Script killed by user with SCRIPT KILL...";

uint64_t mono_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

// Lua's tostring() for an error object, without calling into Lua.
std::string error_text(lua_State* L, int idx) {
  switch (lua_type(L, idx)) {
    case LUA_TSTRING:
    case LUA_TNUMBER: {
      size_t len = 0;
      const char* s = lua_tolstring(L, idx, &len);
      return std::string(s, len);
    }
    case LUA_TNIL:
      return "nil";
    case LUA_TBOOLEAN:
      return lua_toboolean(L, idx) ? "true" : "false";
    default: {
      char buf[64];
      snprintf(buf, sizeof buf, "%s: %p", lua_typename(L, lua_type(L, idx)), lua_topointer(L, idx));
      return buf;
    }
  }
}

void lower_sha(std::string_view in, char out[40]) {
  for (size_t i = 0; i < 40; ++i)
    out[i] = static_cast<char>(tolower(static_cast<unsigned char>(in[i])));
}

struct CompileJob {
  LuaEngine* engine = nullptr;
  std::string_view body;
  int ref = -1;
  int status = 0;
  std::string error;
};

int compile_step(lua_State* L) {
  auto* job = static_cast<CompileJob*>(lua_touserdata(L, 1));
  job->status = luaL_loadbuffer(L, job->body.data(), job->body.size(), "@user_script");
  if (job->status != 0) {
    job->error = error_text(L, -1);
    return 0;
  }
  job->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

struct RunJob {
  int fn_ref = -1;
  int globals_ref = -1;
  std::span<const std::string_view> keys;
  std::span<const std::string_view> argv;
  int handler_ref = -1;
  int status = 0;
  std::string reply;
  std::string_view sha;
};

void push_array(lua_State* L, std::span<const std::string_view> items) {
  lua_createtable(L, static_cast<int>(items.size()), 0);
  for (size_t i = 0; i < items.size(); ++i) {
    lua_pushlstring(L, items[i].data(), items[i].size());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
}

// The reply for a script that failed with the error object at the top of the stack.
void format_error(lua_State* L, int status, std::string_view sha, std::string& out) {
  out.push_back('-');
  if (status == LUA_ERRMEM) {
    out.append("ERR Script exceeded lua-memory-limit (not enough memory) script: ");
    out.append(sha);
  } else if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "err");
    std::string msg = error_text(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, -1, "source");
    std::string source = lua_type(L, -1) == LUA_TSTRING ? error_text(L, -1) : "";
    lua_pop(L, 1);
    lua_getfield(L, -1, "line");
    std::string line =
        lua_type(L, -1) == LUA_TNUMBER ? std::to_string(lua_tointeger(L, -1)) : std::string();
    lua_pop(L, 1);
    append_single_line(out, msg);
    if (!source.empty() && !line.empty()) {
      out.append(" script: ");
      out.append(sha);
      out.append(", on ");
      append_single_line(out, source);
      out.push_back(':');
      out.append(line);
      out.push_back('.');
    }
  } else {
    out.append("ERR Error running script (call to f_");
    out.append(sha);
    out.append("): @");
    append_single_line(out, error_text(L, -1));
  }
  out.append("\r\n");
}

int run_step(lua_State* L) {
  auto* job = static_cast<RunJob*>(lua_touserdata(L, 1));
  lua_rawgeti(L, LUA_REGISTRYINDEX, job->handler_ref);  // 2
  lua_rawgeti(L, LUA_REGISTRYINDEX, job->fn_ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, job->globals_ref);
  lua_pushstring(L, "KEYS");
  push_array(L, job->keys);
  lua_rawset(L, -3);
  lua_pushstring(L, "ARGV");
  push_array(L, job->argv);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  job->status = lua_pcall(L, 0, 1, 2);
  if (job->status == 0)
    write_lua_value(L, -1, job->reply);
  else
    format_error(L, job->status, job->sha, job->reply);
  return 0;
}

}  // namespace

LuaEngine::LuaEngine(Server& server) : server_(server) {
  internal_ = new Client(&server, 0, Client::Kind::kInternal);
  internal_->authenticated = true;
  internal_->name = "lua";
  open_state();
}

LuaEngine::~LuaEngine() {
  close_state();
  internal_->close();  // an internal client is deleted at once
}

LuaEngine* LuaEngine::from(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return static_cast<LuaEngine*>(ud);
}

void* LuaEngine::lua_alloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* e = static_cast<LuaEngine*>(ud);
  if (nsize == 0) {
    free(ptr);
    e->mem_used_ -= osize;
    return nullptr;
  }
  if (nsize > osize && e->L_ != nullptr) {  // no cap while the state is being built
    uint64_t limit = e->server_.config().lua_memory_limit;
    if (limit != 0 && e->mem_used_ + (nsize - osize) > limit) return nullptr;
  }
  void* p = realloc(ptr, nsize);
  if (p == nullptr) return nullptr;
  e->mem_used_ = e->mem_used_ - osize + nsize;
  return p;
}

void LuaEngine::open_state() {
  lua_State* L = lua_newstate(lua_alloc, this);
  if (L == nullptr) {
    fprintf(stderr, "tiercache-l2: cannot create the Lua state\n");
    abort();
  }
  globals_ref_ = install_sandbox(L, redis_call, redis_pcall);
  lua_pushboolean(L, 0);
  last_error_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushcfunction(L, run_step);
  run_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushcfunction(L, msg_handler);
  handler_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
  L_ = L;
}

void LuaEngine::close_state() {
  lua_State* L = L_;
  L_ = nullptr;
  lua_close(L);
  scripts_.clear();
}

void LuaEngine::flush() {
  close_state();
  open_state();
}

int LuaEngine::compile(std::string_view body, std::string_view sha, std::string* error) {
  if (!body.empty() && body[0] == LUA_SIGNATURE[0]) {  // never load (unverified) bytecode
    *error =
        "ERR Error compiling script (new function): user_script:1: unexpected symbol near "
        "'char(27)'";
    return -1;
  }
  CompileJob job;
  job.engine = this;
  job.body = body;
  int rc = lua_cpcall(L_, compile_step, &job);
  lua_settop(L_, 0);
  if (rc != 0 || job.status != 0) {
    std::string why = rc != 0 || job.status == LUA_ERRMEM ? "not enough memory" : job.error;
    error->clear();
    append_single_line(*error, "ERR Error compiling script (new function): " + why);
    if (rc == LUA_ERRMEM || job.status == LUA_ERRMEM) lua_gc(L_, LUA_GCCOLLECT, 0);
    return -1;
  }
  scripts_.emplace(std::string(sha), job.ref);
  return job.ref;
}

bool LuaEngine::load(std::string_view body, char sha_out[40], std::string* error) {
  util::sha1_hex(body, sha_out);
  std::string_view sha(sha_out, 40);
  if (scripts_.find(sha) != scripts_.end()) return true;
  return compile(body, sha, error) >= 0;
}

bool LuaEngine::exists(std::string_view sha) const {
  if (sha.size() != 40) return false;
  char lower[40];
  lower_sha(sha, lower);
  return scripts_.find(std::string_view(lower, 40)) != scripts_.end();
}

LuaEngine::KillResult LuaEngine::kill() {
  if (!running_ || !timed_out_) return KillResult::kNotBusy;
  if (wrote_) return KillResult::kUnkillable;
  killed_ = true;
  return KillResult::kKilled;
}

void LuaEngine::eval(CommandContext& ctx, bool by_sha, bool read_only) {
  auto numkeys = util::parse_int64(ctx.args[2]);
  auto fail = [&ctx](std::string_view msg) {
    ctx.server.stats().total_error_replies++;
    resp::write_error(ctx.out, msg);
  };
  if (!numkeys) return fail("ERR value is not an integer or out of range");
  if (*numkeys > static_cast<int64_t>(ctx.args.size()) - 3)
    return fail("ERR Number of keys can't be greater than number of args");
  if (*numkeys < 0) return fail("ERR Number of keys can't be negative");
  char sha[40];
  if (by_sha) {
    if (ctx.args[1].size() != 40) return fail("NOSCRIPT No matching script. Please use EVAL.");
    lower_sha(ctx.args[1], sha);
  } else {
    util::sha1_hex(ctx.args[1], sha);
  }
  std::string_view key(sha, 40);
  auto it = scripts_.find(key);
  int ref;
  if (it != scripts_.end()) {
    ref = it->second;
  } else if (by_sha) {
    return fail("NOSCRIPT No matching script. Please use EVAL.");
  } else {
    std::string error;
    ref = compile(ctx.args[1], key, &error);
    if (ref < 0) return fail(error);
  }
  run(ctx, ref, key, *numkeys, read_only);
}

void LuaEngine::run(CommandContext& ctx, int ref, std::string_view sha, int64_t numkeys,
                    bool read_only) {
  running_ = true;
  timed_out_ = killed_ = wrote_ = false;
  read_only_ = read_only;
  caller_ = &ctx.client;
  start_ms_ = mono_ms();
  internal_->db = ctx.client.db;
  auto rest = ctx.args.subspan(3);
  RunJob job;
  job.fn_ref = ref;
  job.globals_ref = globals_ref_;
  job.keys = rest.first(static_cast<size_t>(numkeys));
  job.argv = rest.subspan(static_cast<size_t>(numkeys));
  job.handler_ref = handler_ref_;
  job.sha = sha;
  lua_sethook(L_, hook, LUA_MASKCOUNT, kHookInstructions);
  // Like lua_cpcall, without allocating a closure per call: the runner is kept in the registry
  // (and a stack this empty has room for two values without growing).
  lua_rawgeti(L_, LUA_REGISTRYINDEX, run_ref_);
  lua_pushlightuserdata(L_, &job);
  int rc = lua_pcall(L_, 1, 0, 0);
  lua_sethook(L_, nullptr, 0, 0);
  lua_settop(L_, 0);
  if (rc != 0) {  // the setup itself failed: only the memory cap can do that
    job.reply.clear();
    format_error(L_, LUA_ERRMEM, sha, job.reply);
  }
  if (rc == LUA_ERRMEM || job.status == LUA_ERRMEM) {
    lua_gc(L_, LUA_GCCOLLECT, 0);
  } else {
    if (++gc_count_ >= kGcPeriod) {
      gc_count_ = 0;
      lua_gc(L_, LUA_GCSTEP, kGcPeriod);
    }
  }
  if (!job.reply.empty() && job.reply[0] == '-') ctx.server.stats().total_error_replies++;
  ctx.out.append(job.reply);
  bool was_timed_out = timed_out_;
  running_ = timed_out_ = killed_ = false;
  caller_ = nullptr;
  if (was_timed_out) {
    log::warn("slow script {} finished after {} ms", sha, mono_ms() - start_ms_);
    ctx.client.release();
  }
}

void LuaEngine::check_time() {
  uint64_t now = mono_ms();
  if (!timed_out_) {
    int64_t limit = server_.config().lua_time_limit;
    if (limit <= 0 || now - start_ms_ < static_cast<uint64_t>(limit)) return;
    timed_out_ = true;
    log::warn(
        "slow script detected: still running after {} ms; other clients get -BUSY, SCRIPT KILL "
        "can stop it{}",
        now - start_ms_, wrote_ ? " (it already wrote: it cannot be killed)" : "");
    caller_->hold();
    last_events_ms_ = 0;
  }
  if (now - last_events_ms_ >= kEventsIntervalMs) {
    last_events_ms_ = now;
    uv_run(server_.loop(), UV_RUN_NOWAIT);  // other clients: -BUSY, SCRIPT KILL
    if (server_.shutting_down()) killed_ = true;
  }
}

void LuaEngine::hook(lua_State* L, lua_Debug*) {
  LuaEngine* e = from(L);
  if (!e->killed_) e->check_time();
  if (!e->killed_) return;
  // From now on every line raises again, so a pcall in the script cannot swallow the kill.
  lua_sethook(L, hook, LUA_MASKLINE, 0);
  lua_createtable(L, 0, 1);
  lua_pushstring(L, "err");
  lua_pushlstring(L, kKilledError.data(), kKilledError.size());
  lua_rawset(L, -3);
  lua_error(L);
}

// The message handler of every script call, like Redis's __redis__err__handler: turns the
// error into a table {err=..., source=..., line=...} pointing at the script's line.
int LuaEngine::msg_handler(lua_State* L) {
  LuaEngine* e = from(L);
  lua_Debug ar;
  bool have = false;
  if (lua_getstack(L, 1, &ar)) {
    lua_getinfo(L, "Sl", &ar);
    have = true;
    if (strcmp(ar.what, "C") == 0) {
      have = lua_getstack(L, 2, &ar) != 0;
      if (have) lua_getinfo(L, "Sl", &ar);
    }
  }
  // Always a fresh table (never the script's own object, which may be a read-only proxy).
  // Built with Lua values only: a refused allocation must not skip a C++ destructor.
  if (lua_istable(L, 1)) {
    lua_pushstring(L, "err");
    lua_rawget(L, 1);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_pushstring(L, "ERR unknown error");
    } else if (!lua_isstring(L, -1)) {
      lua_pop(L, 1);
      lua_pushstring(L, "ERR unknown error");
    }
  } else {
    // An error redis.call raised already carries its code; anything else gets ERR.
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->last_error_ref_);
    bool from_call = lua_rawequal(L, 1, -1) != 0;
    lua_pop(L, 1);
    if (!from_call) lua_pushstring(L, "ERR ");
    switch (lua_type(L, 1)) {
      case LUA_TSTRING:
      case LUA_TNUMBER:
        lua_pushvalue(L, 1);
        break;
      case LUA_TNIL:
        lua_pushstring(L, "nil");
        break;
      case LUA_TBOOLEAN:
        lua_pushstring(L, lua_toboolean(L, 1) ? "true" : "false");
        break;
      default:
        lua_pushfstring(L, "%s: %p", lua_typename(L, lua_type(L, 1)), lua_topointer(L, 1));
        break;
    }
    if (!from_call) lua_concat(L, 2);
  }
  lua_createtable(L, 0, 3);  // msg table
  lua_pushstring(L, "err");
  lua_pushvalue(L, -3);
  lua_rawset(L, -3);
  lua_replace(L, 1);
  if (have && ar.currentline >= 0) {
    lua_pushstring(L, "source");
    lua_pushstring(L, ar.source);
    lua_rawset(L, 1);
    lua_pushstring(L, "line");
    lua_pushinteger(L, ar.currentline);
    lua_rawset(L, 1);
  }
  lua_settop(L, 1);
  return 1;
}

int LuaEngine::redis_call(lua_State* L) { return from(L)->call(L, true); }
int LuaEngine::redis_pcall(lua_State* L) { return from(L)->call(L, false); }

namespace {

// Ends redis.call/pcall with an error: raised (call) or returned as {err=...} (pcall).
int call_error(lua_State* L, int last_error_ref, bool raise, std::string_view msg) {
  if (raise) {
    lua_pushlstring(L, msg.data(), msg.size());
    lua_pushvalue(L, -1);
    lua_rawseti(L, LUA_REGISTRYINDEX, last_error_ref);
    return lua_error(L);
  }
  lua_createtable(L, 0, 1);
  lua_pushstring(L, "err");
  lua_pushlstring(L, msg.data(), msg.size());
  lua_rawset(L, -3);
  return 1;
}

}  // namespace

int LuaEngine::call(lua_State* L, bool raise) {
  int argc = lua_gettop(L);
  if (argc == 0)
    return call_error(L, last_error_ref_, raise,
                      "ERR Please specify at least one argument for this redis lib call");
  call_args_.resize(static_cast<size_t>(argc));
  if (call_numbers_.size() < static_cast<size_t>(argc))
    call_numbers_.resize(static_cast<size_t>(argc));
  for (int i = 0; i < argc; ++i) {
    int t = lua_type(L, i + 1);
    if (t == LUA_TNUMBER) {
      char buf[64];
      int n = snprintf(buf, sizeof buf, "%.17g", static_cast<double>(lua_tonumber(L, i + 1)));
      call_numbers_[i].assign(buf, static_cast<size_t>(n));
      call_args_[i] = call_numbers_[i];
    } else if (t == LUA_TSTRING) {
      size_t len = 0;
      const char* s = lua_tolstring(L, i + 1, &len);
      call_args_[i] = std::string_view(s, len);
    } else {
      return call_error(L, last_error_ref_, raise,
                        "ERR Lua redis lib command arguments must be strings or integers");
    }
  }
  const command::CommandSpec* spec = server_.commands().find(call_args_[0]);
  if (spec == nullptr)
    return call_error(L, last_error_ref_, raise, "ERR Unknown Redis command called from script");
  if (!command::CommandTable::arity_ok(*spec, call_args_.size()))
    return call_error(L, last_error_ref_, raise,
                      "ERR Wrong number of args calling Redis command from script");
  if (spec->flags & command::kNoScript)
    return call_error(L, last_error_ref_, raise,
                      "ERR This Redis command is not allowed from script");
  if (server_.session_commands().find(*spec) == session::Command::kSelect ||
      (spec->flags & command::kAllDbs))
    return call_error(L, last_error_ref_, raise,
                      "ERR This Redis command is not allowed from script in tiercache-l2: scripts "
                      "only touch keys of the current database");
  if (read_only_ && (spec->flags & command::kWrite))
    return call_error(L, last_error_ref_, raise,
                      "ERR Write commands are not allowed from read-only scripts.");
  if (spec->flags & command::kWrite) wrote_ = true;
  internal_->out.clear();
  server_.execute(*internal_, call_args_);
  tokens_.clear();
  size_t consumed = 0;
  if (resp::parse_reply(internal_->out, &tokens_, &consumed) != resp::ReplyStatus::kOk ||
      consumed != internal_->out.size()) {
    fprintf(stderr, "tiercache-l2: '%.*s' wrote a malformed reply for a script\n",
            static_cast<int>(spec->name.size()), spec->name.data());
    abort();
  }
  if (raise && tokens_[0].type == resp::ReplyType::kError)
    return call_error(L, last_error_ref_, true, tokens_[0].text);
  size_t pos = 0;
  push_reply(L, tokens_, &pos);
  return 1;
}

}  // namespace tiercache::l2::scripting
