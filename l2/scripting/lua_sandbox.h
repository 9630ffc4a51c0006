// The environment scripts run in: Redis's subset of the Lua 5.1 libraries (base, table, string,
// math), the `redis` library, and read-only globals. Nothing reaches os, io, the file system,
// bytecode loading or the debug library; writing a global, or reading one that does not exist,
// is an error with Redis 7.0's texts.
#pragma once

struct lua_State;
typedef int (*lua_CFunction)(lua_State* L);

namespace tiercache::l2::scripting {

// Sets up a fresh state. redis.call and redis.pcall are `call` and `pcall`. Returns a registry
// reference to the real globals table, where the caller stores KEYS and ARGV before each run
// (scripts see it only through a read-only proxy).
int install_sandbox(lua_State* L, lua_CFunction call, lua_CFunction pcall);

// True when the table at idx is one of the sandbox's read-only tables.
bool is_readonly_table(lua_State* L, int idx);

}  // namespace tiercache::l2::scripting
