// Lua scripting through the real dispatcher (no sockets): conversions both ways, the sandbox,
// error texts of redis-server 7.0.15, the script cache, limits, databases and statistics.
#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "l2/client.h"
#include "l2/scripting/lua_convert.h"
#include "l2/scripting/lua_engine.h"
#include "l2/server.h"
#include "shared/util/sha1.h"
#include "tests/l2/direct_client.h"

using namespace tiercache::l2;

namespace {

using Fixture = tiercache::l2::testing::DirectClient;

std::string sha_of(std::string_view s) {
  char out[40];
  tiercache::util::sha1_hex(s, out);
  return std::string(out, 40);
}

// The error line Redis 7.0 gives for a script error raised at line `line`.
std::string script_error(std::string_view msg, std::string_view script, int line = 1) {
  return "-" + std::string(msg) + " script: " + sha_of(script) +
         ", on @user_script:" + std::to_string(line) + ".\r\n";
}

}  // namespace

TEST_CASE("Lua values become RESP2 replies as in Redis") {
  Fixture f;
  CHECK(f.eval("return 1") == ":1\r\n");
  CHECK(f.eval("return 3.99") == ":3\r\n");
  CHECK(f.eval("return -3.99") == ":-3\r\n");
  CHECK(f.eval("return 'x'") == "$1\r\nx\r\n");
  CHECK(f.eval("return true") == ":1\r\n");
  CHECK(f.eval("return false") == "$-1\r\n");
  CHECK(f.eval("return nil") == "$-1\r\n");
  CHECK(f.eval("return {1,2,3.7,'x',nil,5}") == "*4\r\n:1\r\n:2\r\n:3\r\n$1\r\nx\r\n");
  CHECK(f.eval("return {'a', false, 'b'}") == "*3\r\n$1\r\na\r\n$-1\r\n$1\r\nb\r\n");
  CHECK(f.eval("return {ok='fine'}") == "+fine\r\n");
  CHECK(f.eval("return {err='My error'}") == "-My error\r\n");
  CHECK(f.eval("return {err=5}") == "*0\r\n");  // err must be a string
  CHECK(f.eval("local t = {}; t.foo = 'bar'; return t") == "*0\r\n");
  CHECK(f.eval("return {1,{2,{3,'x'}},{err='inner'}}") ==
        "*3\r\n:1\r\n*2\r\n:2\r\n*2\r\n:3\r\n$1\r\nx\r\n-inner\r\n");
  CHECK(f.eval("return redis.status_reply('a\\r\\nb')") == "+a  b\r\n");
  CHECK(f.eval("return redis.error_reply('MY bad')") == "-MY bad\r\n");
  CHECK(f.eval("return redis.error_reply('bad')") == "-ERR bad\r\n");
  CHECK(f.eval("return redis.error_reply('')") == "-ERR \r\n");
  CHECK(f.eval("return redis.status_reply(5)") == "-ERR wrong number or type of arguments\r\n");
  CHECK(f.eval("return 1e20") == ":-9223372036854775808\r\n");
  CHECK(f.eval("return 0/0") == ":-9223372036854775808\r\n");
  CHECK(f.eval("return '\\0ab'") == std::string("$3\r\n\0ab\r\n", 9));
  // A table holding itself ends with an error instead of recursing forever.
  std::string r = f.eval("local t = {} t[1] = t return t");
  CHECK(r.find("-ERR reached lua stack limit\r\n") != std::string::npos);
}

TEST_CASE("RESP2 replies become Lua values as in Redis") {
  Fixture f;
  CHECK(f.eval("return type(redis.call('get','nokey'))") == "$7\r\nboolean\r\n");
  CHECK(f.eval("return redis.call('get','nokey') == false") == ":1\r\n");
  CHECK(f.eval("return redis.call('set','k','v')['ok']") == "$2\r\nOK\r\n");
  CHECK(f.eval("return type(redis.call('incr','n'))") == "$6\r\nnumber\r\n");
  CHECK(f.eval("return redis.call('mget','k','nokey','n')") ==
        "*3\r\n$1\r\nv\r\n$-1\r\n$1\r\n1\r\n");
  CHECK(f.eval("return redis.pcall('incr','k')['err']") ==
        "$43\r\nERR value is not an integer or out of range\r\n");
  CHECK(f.eval("redis.call('set','f',0.1) return redis.call('get','f')") ==
        "$19\r\n0.10000000000000001\r\n");
  CHECK(f.eval("redis.call('set','f',1e15) return redis.call('get','f')") ==
        "$16\r\n1000000000000000\r\n");
  CHECK(f.eval("return {KEYS[1], ARGV[1], #KEYS, #ARGV}", {"1", "key", "arg"}) ==
        "*4\r\n$3\r\nkey\r\n$3\r\narg\r\n:1\r\n:1\r\n");
}

TEST_CASE("errors carry the script's sha and line like Redis 7.0") {
  Fixture f;
  const char* s = "return redis.call('nosuch')";
  CHECK(f.eval(s) == script_error("ERR Unknown Redis command called from script", s));
  s = "return error('boom')";
  CHECK(f.eval(s) == script_error("ERR user_script:1: boom", s));
  s = "error({err='MYERR custom'})";
  CHECK(f.eval(s) == script_error("MYERR custom", s));
  s = "error()";
  CHECK(f.eval(s) == script_error("ERR nil", s));
  s = "local a = 1\nlocal b = 2\nreturn redis.call('get')";
  CHECK(f.eval(s) ==
        script_error("ERR Wrong number of args calling Redis command from script", s, 3));
  s = "redis.call('set','s','a'); return redis.call('incr','s')";
  CHECK(f.eval(s) == script_error("ERR value is not an integer or out of range", s));
  s = "local ok, e = pcall(redis.call, 'incr', 's') return e";
  CHECK(f.eval(s) == "$43\r\nERR value is not an integer or out of range\r\n");
  s = "local ok, e = pcall(redis.call, 'incr', 's') error(e)";
  CHECK(f.eval(s) ==
        script_error("ERR user_script:1: ERR value is not an integer or out of range", s));
  CHECK(f.eval("return redis.pcall('nosuch')") ==
        "-ERR Unknown Redis command called from script\r\n");
  s = "return redis.call('get', {})";
  CHECK(f.eval(s) ==
        script_error("ERR Lua redis lib command arguments must be strings or integers", s));
  s = "return redis.call()";
  CHECK(f.eval(s) ==
        script_error("ERR Please specify at least one argument for this redis lib call", s));
  s = "return redis.call('subscribe','x')";
  CHECK(f.eval(s) == script_error("ERR This Redis command is not allowed from script", s));
  s = "return redis.call('eval','return 1', 0)";
  CHECK(f.eval(s) == script_error("ERR This Redis command is not allowed from script", s));
  s = "error('x\\nline2')";
  CHECK(f.eval(s) == script_error("ERR user_script:1: x line2", s));
  CHECK(f.eval("syntax error here") ==
        "-ERR Error compiling script (new function): user_script:1: '=' expected near 'error'\r\n");
  CHECK(f.eval("\x1bLua") ==
        "-ERR Error compiling script (new function): user_script:1: unexpected symbol near "
        "'char(27)'\r\n");
  s = "local function f(n) return f(n+1)+1 end return f(1)";
  CHECK(f.eval(s) == script_error("ERR user_script:1: stack overflow", s));
  s = "return redis.log(99,'x')";
  CHECK(f.eval(s) == script_error("ERR Invalid debug level.", s));
  s = "return redis.sha1hex('a','b')";
  CHECK(f.eval(s) == script_error("ERR wrong number of arguments", s));
}

TEST_CASE("the sandbox: no os, io, files, bytecode or globals") {
  Fixture f;
  for (const char* name : {"os", "io", "loadfile", "dofile", "require", "module", "debug", "print",
                           "setfenv", "getfenv", "newproxy", "x"}) {
    CAPTURE(name);
    std::string s = std::string("return type(") + name + ")";
    CHECK(f.eval(s) == script_error(std::string("ERR user_script:1: Script attempted to access "
                                                "nonexistent global variable '") +
                                        name + "'",
                                    s));
  }
  for (const char* name : {"pcall", "error", "type", "tonumber", "tostring", "unpack", "select",
                           "ipairs", "pairs", "next", "assert", "loadstring", "load", "rawget",
                           "rawset", "setmetatable", "getmetatable", "xpcall", "collectgarbage"}) {
    CAPTURE(name);
    CHECK(f.eval(std::string("return type(") + name + ")") == "$8\r\nfunction\r\n");
  }
  CHECK(f.eval("return {type(string), type(table), type(math), type(redis), type(_G)}") ==
        "*5\r\n$5\r\ntable\r\n$5\r\ntable\r\n$5\r\ntable\r\n$5\r\ntable\r\n$5\r\ntable\r\n");
  std::string s = "x = 1";
  CHECK(f.eval(s) == script_error("ERR user_script:1: Attempt to modify a readonly table", s));
  s = "KEYS = 1 return 1";
  CHECK(f.eval(s) == script_error("ERR user_script:1: Attempt to modify a readonly table", s));
  for (const char* t : {"string", "redis", "math", "table"}) {
    s = std::string(t) + ".x = 1";
    CHECK(f.eval(s) == script_error("ERR user_script:1: Attempt to modify a readonly table", s));
  }
  s = "rawset(_G, 'zz', 1) return zz";
  CHECK(f.eval(s) == script_error("ERR Attempt to modify a readonly table", s));
  s = "setmetatable(_G, nil) return 1";
  CHECK(f.eval(s) == script_error("ERR Attempt to modify a readonly table", s));
  s = "getmetatable('').__index.upper = nil";
  CHECK(f.eval(s) == script_error("ERR user_script:1: Attempt to modify a readonly table", s));
  CHECK(f.eval("return ('abc'):upper()") == "$3\r\nABC\r\n");
  CHECK(f.eval("return loadstring(string.dump(function() return 1 end))") == "$-1\r\n");
  CHECK(f.eval("local parts = {string.dump(function() return 1 end)}"
               " return load(function() return table.remove(parts) end)") == "$-1\r\n");
  CHECK(f.eval("return loadstring('return 1+1')()") == ":2\r\n");
  CHECK(f.eval("KEYS[1] = 'x' return KEYS[1]") == "$1\r\nx\r\n");  // KEYS itself is writable
  // Nothing a script did is visible to the next one.
  CHECK(f.eval("return type(string.x)") == "$3\r\nnil\r\n");
  CHECK(f.eval("return redis.sha1hex('')") ==
        "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n");
}

TEST_CASE("memory cap: a huge table fails the script, the engine goes on") {
  Fixture f;
  f.server.config().lua_memory_limit = 8 << 20;
  std::string r = f.eval("local t = {} for i = 1, 1e8 do t[i] = i end return 1");
  CHECK(r.rfind("-ERR Script exceeded lua-memory-limit (not enough memory)", 0) == 0);
  r = f.eval("return string.rep('x', 2^30)");
  CHECK(r.rfind("-ERR Script exceeded lua-memory-limit (not enough memory)", 0) == 0);
  CHECK(f.server.lua().memory_used() < (8u << 20));
  CHECK(f.eval("return 1 + 1") == ":2\r\n");
}

TEST_CASE("EVAL/EVALSHA arguments, the script cache and SCRIPT") {
  Fixture f;
  CHECK(f.run({"EVAL", "return 1", "-1"}) == "-ERR Number of keys can't be negative\r\n");
  CHECK(f.run({"EVAL", "return 1", "1"}) ==
        "-ERR Number of keys can't be greater than number of args\r\n");
  CHECK(f.run({"EVAL", "return 1", "x"}) == "-ERR value is not an integer or out of range\r\n");
  CHECK(f.run({"EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"}) ==
        "-NOSCRIPT No matching script. Please use EVAL.\r\n");
  CHECK(f.run({"EVALSHA", "fff", "0"}) == "-NOSCRIPT No matching script. Please use EVAL.\r\n");
  CHECK(f.run({"SCRIPT", "LOAD", "return 1"}) ==
        "$40\r\ne0e1f9fabfc9d4800c877a703b823ac0578ff8db\r\n");
  CHECK(f.run({"EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"}) == ":1\r\n");
  CHECK(f.run({"SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "ffff"}) ==
        "*2\r\n:1\r\n:0\r\n");
  f.eval("return 2");  // EVAL caches too
  CHECK(f.run({"EVALSHA", sha_of("return 2"), "0"}) == ":2\r\n");
  CHECK(f.run({"SCRIPT", "LOAD", "return +"}) ==
        "-ERR Error compiling script (new function): user_script:1: unexpected symbol near "
        "'+'\r\n");
  CHECK(f.run({"SCRIPT", "FLUSH", "bogus"}) ==
        "-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n");
  CHECK(f.run({"SCRIPT", "FLUSH"}) == "+OK\r\n");
  CHECK(f.run({"SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"}) == "*1\r\n:0\r\n");
  CHECK(f.server.lua().cached_scripts() == 0);
  CHECK(f.run({"SCRIPT", "KILL"}) == "-NOTBUSY No scripts in execution right now.\r\n");
  CHECK(f.run({"SCRIPT", "LOAD"}) ==
        "-ERR wrong number of arguments for 'script|load' command\r\n");
  CHECK(f.run({"SCRIPT", "bogus"}) == "-ERR unknown subcommand 'bogus'. Try SCRIPT HELP.\r\n");
  CHECK(f.run({"EVAL_RO", "return redis.call('get', KEYS[1])", "1", "a"}) == "$-1\r\n");
  std::string s = "return redis.call('set','a','b')";
  CHECK(f.run({"EVAL_RO", s, "1", "a"}) ==
        script_error("ERR Write commands are not allowed from read-only scripts.", s));
}

TEST_CASE("scripts use the caller's database, and writes count like any other") {
  Fixture f;
  CHECK(f.run({"SELECT", "3"}) == "+OK\r\n");
  uint64_t hits = f.server.keyspace().stats().hits;
  uint64_t commands = f.server.stats().total_commands_processed;
  CHECK(f.eval("redis.call('set', KEYS[1], 'v') return redis.call('get', KEYS[1])", {"1", "k"}) ==
        "$1\r\nv\r\n");
  CHECK(f.server.keyspace().db_size(3) == 1);
  CHECK(f.server.keyspace().db_size(0) == 0);
  CHECK(f.server.keyspace().stats().hits == hits + 1);
  CHECK(f.server.stats().total_commands_processed == commands + 3);  // EVAL, SET, GET
  std::string s = "return redis.call('select', 0)";
  CHECK(f.eval(s).rfind("-ERR This Redis command is not allowed from script in tiercache-l2", 0) ==
        0);
  CHECK(f.eval("return redis.call('flushall')")
            .rfind("-ERR This Redis command is not allowed from script in tiercache-l2", 0) == 0);
  CHECK(f.run({"SELECT", "0"}) == "+OK\r\n");
  CHECK(f.eval("return redis.call('get', 'k')") == "$-1\r\n");
}

TEST_CASE("django-redis incr and redis-py Lock scripts, unchanged") {
  Fixture f;
  const char* incr =
      "\n                    local exists = redis.call('EXISTS', KEYS[1])\n"
      "                    if (exists == 1) then\n"
      "                        return redis.call('INCRBY', KEYS[1], ARGV[1])\n"
      "                    else return false end\n                    ";
  CHECK(f.eval(incr, {"1", ":1:n", "5"}) == "$-1\r\n");
  f.run({"SET", ":1:n", "10"});
  CHECK(f.eval(incr, {"1", ":1:n", "5"}) == ":15\r\n");
  CHECK(f.eval(incr, {"1", ":1:n", "-20"}) == ":-5\r\n");
  const char* release =
      "local token = redis.call('get', KEYS[1])\n"
      "if not token or token ~= ARGV[1] then\n    return 0\nend\n"
      "redis.call('del', KEYS[1])\nreturn 1\n";
  f.run({"SET", "lock", "mine", "PX", "10000"});
  CHECK(f.eval(release, {"1", "lock", "foreign"}) == ":0\r\n");
  CHECK(f.run({"GET", "lock"}) == "$4\r\nmine\r\n");
  CHECK(f.eval(release, {"1", "lock", "mine"}) == ":1\r\n");
  CHECK(f.run({"EXISTS", "lock"}) == ":0\r\n");
  CHECK(f.eval(release, {"1", "lock", "mine"}) == ":0\r\n");
}

TEST_CASE("EVAL inside MULTI/EXEC") {
  Fixture f;
  CHECK(f.run({"MULTI"}) == "+OK\r\n");
  CHECK(f.eval("return redis.call('incr', KEYS[1])", {"1", "c"}) == "+QUEUED\r\n");
  CHECK(f.run({"INCR", "c"}) == "+QUEUED\r\n");
  CHECK(f.run({"EXEC"}) == "*2\r\n:1\r\n:2\r\n");
}

TEST_CASE("number conversion helper") {
  using tiercache::l2::scripting::lua_number_to_int64;
  CHECK(lua_number_to_int64(2.9) == 2);
  CHECK(lua_number_to_int64(-2.9) == -2);
  CHECK(lua_number_to_int64(9.3e18) == INT64_MIN);
  CHECK(lua_number_to_int64(-9.3e18) == INT64_MIN);
  CHECK(tiercache::l2::scripting::normalize_error("-CODE msg\r\n") == "CODE msg");
  CHECK(tiercache::l2::scripting::normalize_error("plain") == "ERR plain");
}
