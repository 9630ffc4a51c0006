// Script sandbox and the `redis` library (see lua_sandbox.h).
//
// Layout of the globals: scripts' environment is an empty proxy table P whose metatable sends
// reads to the real globals table G and refuses writes ("Attempt to modify a readonly table");
// G's own metatable answers a read of a missing name with "Script attempted to access
// nonexistent global variable". The library tables (string, table, math, coroutine, redis) are
// replaced by read-only proxies the same way, and rawset/setmetatable refuse read-only tables,
// so no script can leave anything behind for the next one.
#include "l2/scripting/lua_sandbox.h"

#include <cstring>
#include <lua.hpp>
#include <string>

#include "l2/scripting/lua_convert.h"
#include "shared/log/log.h"
#include "shared/session/connection_commands.h"
#include "shared/util/sha1.h"

namespace tiercache::l2::scripting {
namespace {

constexpr const char* kReadonlyMark = "__tiercache_readonly";

int readonly_error(lua_State* L) { return luaL_error(L, "Attempt to modify a readonly table"); }

int missing_global(lua_State* L) {
  const char* name = lua_tostring(L, 2);
  return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                    name ? name : "?");
}

// Raises msg without a position (as Redis's C-level errors read).
int raise_plain(lua_State* L, const char* msg) {
  lua_pushstring(L, msg);
  return lua_error(L);
}

int safe_rawset(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  if (is_readonly_table(L, 1)) return raise_plain(L, "Attempt to modify a readonly table");
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 1;
}

int safe_setmetatable(lua_State* L) {
  int t = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argcheck(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table expected");
  if (is_readonly_table(L, 1)) return raise_plain(L, "Attempt to modify a readonly table");
  if (luaL_getmetafield(L, 1, "__metatable")) luaL_error(L, "cannot change a protected metatable");
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

// loadstring/load without binary chunks: Lua 5.1 bytecode is not verified, so loading
// crafted bytecode could corrupt memory. Returns nil and a message like the originals do.
int load_text(lua_State* L, const char* s, size_t len, const char* chunkname) {
  if (len > 0 && s[0] == LUA_SIGNATURE[0]) {
    lua_pushnil(L);
    lua_pushstring(L, "binary chunks are not allowed");
    return 2;
  }
  if (luaL_loadbuffer(L, s, len, chunkname) == 0) return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

int safe_loadstring(lua_State* L) {
  size_t len = 0;
  const char* s = luaL_checklstring(L, 1, &len);
  const char* name = luaL_optstring(L, 2, s);
  return load_text(L, s, len, name);
}

int safe_load(lua_State* L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  const char* name = luaL_optstring(L, 2, "=(load)");
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (;;) {
    lua_pushvalue(L, 1);
    lua_call(L, 0, 1);
    if (lua_isnil(L, -1) || (lua_isstring(L, -1) && lua_objlen(L, -1) == 0)) {
      lua_pop(L, 1);
      break;
    }
    if (!lua_isstring(L, -1)) return luaL_error(L, "reader function must return a string");
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  size_t len = 0;
  const char* s = lua_tolstring(L, -1, &len);
  return load_text(L, s, len, name);
}

// -- the redis library ---------------------------------------------------------------------

int error_reply(lua_State* L) {
  if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
    lua_createtable(L, 0, 1);
    lua_pushstring(L, "err");
    lua_pushstring(L, "ERR wrong number or type of arguments");
    lua_rawset(L, -3);
    return 1;
  }
  size_t len = 0;
  const char* s = lua_tolstring(L, 1, &len);
  std::string err = normalize_error(std::string_view(s, len));
  lua_createtable(L, 0, 1);
  lua_pushstring(L, "err");
  lua_pushlstring(L, err.data(), err.size());
  lua_rawset(L, -3);
  return 1;
}

int status_reply(lua_State* L) {
  if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
    lua_createtable(L, 0, 1);
    lua_pushstring(L, "err");
    lua_pushstring(L, "ERR wrong number or type of arguments");
    lua_rawset(L, -3);
    return 1;
  }
  lua_createtable(L, 0, 1);
  lua_pushstring(L, "ok");
  lua_pushvalue(L, 1);
  lua_rawset(L, -3);
  return 1;
}

int sha1hex(lua_State* L) {
  if (lua_gettop(L) != 1) return raise_plain(L, "wrong number of arguments");
  size_t len = 0;
  const char* s = lua_tolstring(L, 1, &len);
  char hex[40];
  util::sha1_hex(s ? std::string_view(s, len) : std::string_view(), hex);
  lua_pushlstring(L, hex, 40);
  return 1;
}

int log(lua_State* L) {
  int argc = lua_gettop(L);
  if (argc < 2) return raise_plain(L, "redis.log() requires two arguments or more.");
  if (!lua_isnumber(L, 1)) return raise_plain(L, "First argument must be a number (log level).");
  int level = static_cast<int>(lua_tonumber(L, 1));
  if (level < 0 || level > 3) return raise_plain(L, "Invalid debug level.");
  std::string line;
  for (int i = 2; i <= argc; ++i) {
    size_t len = 0;
    const char* s = lua_tolstring(L, i, &len);
    if (s == nullptr) continue;
    if (i != 2) line.push_back(' ');
    line.append(s, len);
  }
  static constexpr log::Level kLevels[] = {log::Level::kDebug, log::Level::kDebug,
                                           log::Level::kInfo, log::Level::kWarn};
  log::at(kLevels[level], "script: {}", line);
  return 0;
}

int setresp(lua_State* L) {
  if (lua_gettop(L) != 1) return raise_plain(L, "redis.setresp() requires one argument.");
  if (lua_tonumber(L, 1) != 2) return raise_plain(L, "RESP version must be 2 in tiercache-l2.");
  return 0;
}

int return_true(lua_State* L) {
  lua_pushboolean(L, 1);
  return 1;
}
int return_nothing(lua_State*) { return 0; }

void set_function(lua_State* L, const char* name, lua_CFunction f) {
  lua_pushstring(L, name);
  lua_pushcfunction(L, f);
  lua_rawset(L, -3);
}
void set_number(lua_State* L, const char* name, double v) {
  lua_pushstring(L, name);
  lua_pushnumber(L, v);
  lua_rawset(L, -3);
}

// Replaces the table at the top of the stack with a read-only proxy of it.
void make_readonly_proxy(lua_State* L) {
  lua_newtable(L);           // real proxy
  lua_createtable(L, 0, 4);  // real proxy mt
  lua_pushstring(L, "__index");
  lua_pushvalue(L, -4);
  lua_rawset(L, -3);
  lua_pushstring(L, "__newindex");
  lua_pushcfunction(L, readonly_error);
  lua_rawset(L, -3);
  lua_pushstring(L, "__metatable");
  lua_newtable(L);
  lua_rawset(L, -3);
  lua_pushstring(L, kReadonlyMark);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_setmetatable(L, -2);  // real proxy
  lua_remove(L, -2);        // proxy
}

void open_lib(lua_State* L, const char* name, lua_CFunction open) {
  lua_pushcfunction(L, open);
  lua_pushstring(L, name);
  lua_call(L, 1, 0);
}

}  // namespace

bool is_readonly_table(lua_State* L, int idx) {
  if (!lua_getmetatable(L, idx)) return false;
  lua_pushstring(L, kReadonlyMark);
  lua_rawget(L, -2);
  bool ro = lua_toboolean(L, -1) != 0;
  lua_pop(L, 2);
  return ro;
}

int install_sandbox(lua_State* L, lua_CFunction call, lua_CFunction pcall) {
  open_lib(L, "", luaopen_base);
  open_lib(L, LUA_TABLIBNAME, luaopen_table);
  open_lib(L, LUA_STRLIBNAME, luaopen_string);
  open_lib(L, LUA_MATHLIBNAME, luaopen_math);

  lua_pushvalue(L, LUA_GLOBALSINDEX);  // G
  int g = lua_gettop(L);
  for (const char* name : {"loadfile", "dofile", "print", "setfenv", "getfenv", "newproxy"}) {
    lua_pushstring(L, name);
    lua_pushnil(L);
    lua_rawset(L, g);
  }
  const std::pair<const char*, lua_CFunction> replaced[] = {{"rawset", safe_rawset},
                                                            {"setmetatable", safe_setmetatable},
                                                            {"loadstring", safe_loadstring},
                                                            {"load", safe_load}};
  for (const auto& [name, fn] : replaced) {
    lua_pushstring(L, name);
    lua_pushcfunction(L, fn);
    lua_rawset(L, g);
  }

  // The redis library.
  lua_newtable(L);
  set_function(L, "call", call);
  set_function(L, "pcall", pcall);
  set_function(L, "error_reply", error_reply);
  set_function(L, "status_reply", status_reply);
  set_function(L, "sha1hex", sha1hex);
  set_function(L, "log", log);
  set_function(L, "setresp", setresp);
  set_function(L, "replicate_commands", return_true);
  set_function(L, "set_repl", return_nothing);
  set_function(L, "breakpoint", return_nothing);
  set_function(L, "debug", return_nothing);
  set_number(L, "LOG_DEBUG", 0);
  set_number(L, "LOG_VERBOSE", 1);
  set_number(L, "LOG_NOTICE", 2);
  set_number(L, "LOG_WARNING", 3);
  set_number(L, "REPL_NONE", 0);
  set_number(L, "REPL_SLAVE", 1);
  set_number(L, "REPL_REPLICA", 1);
  set_number(L, "REPL_AOF", 2);
  set_number(L, "REPL_ALL", 3);
  set_number(L, "REDIS_VERSION_NUM", 0x07000f);
  lua_pushstring(L, "REDIS_VERSION");
  lua_pushlstring(L, session::kRedisVersion.data(), session::kRedisVersion.size());
  lua_rawset(L, -3);
  lua_setfield(L, g, "redis");

  // Library tables become read-only proxies; strings' methods go through the string proxy.
  for (const char* name : {"string", "table", "math", "coroutine", "redis"}) {
    lua_getfield(L, g, name);
    make_readonly_proxy(L);
    lua_setfield(L, g, name);
  }
  lua_pushstring(L, "");
  if (lua_getmetatable(L, -1)) {  // the string metatable
    lua_getfield(L, g, "string");
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, "__metatable");
    lua_pushvalue(L, -2);
    make_readonly_proxy(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);

  // G: reading a missing name is an error.
  lua_createtable(L, 0, 1);
  lua_pushstring(L, "__index");
  lua_pushcfunction(L, missing_global);
  lua_rawset(L, -3);
  lua_setmetatable(L, g);

  // P: the scripts' globals.
  lua_pushvalue(L, g);
  make_readonly_proxy(L);
  lua_pushstring(L, "_G");
  lua_pushvalue(L, -2);
  lua_rawset(L, g);
  lua_replace(L, LUA_GLOBALSINDEX);

  int ref = luaL_ref(L, LUA_REGISTRYINDEX);  // pops G
  return ref;
}

}  // namespace tiercache::l2::scripting
