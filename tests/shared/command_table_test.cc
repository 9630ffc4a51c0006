// The command table: lookups, arity and key positions.
#include "shared/command/command_table.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace tiercache::command;

TEST_CASE("lookup is case-insensitive and every name unique") {
  CommandTable t;
  REQUIRE(t.find("GET") != nullptr);
  CHECK(t.find("gEt") == t.find("get"));
  CHECK(t.find("nosuchcommand") == nullptr);
  CHECK(t.find(std::string(100, 'a')) == nullptr);
  std::set<std::string_view> names;
  for (const auto& s : t.all()) {
    CHECK(names.insert(s.name).second);
    CHECK(t.find(s.name) == &s);
    CHECK(s.id == static_cast<uint16_t>(&s - t.all().data()));
  }
}

TEST_CASE("arity and key positions") {
  CommandTable t;
  const CommandSpec& mset = *t.find("mset");
  std::vector<std::string_view> args = {"mset", "a", "1", "b", "2"};
  std::vector<int> pos;
  CHECK(CommandTable::key_positions(mset, args, &pos));
  CHECK(pos == std::vector<int>{1, 3});
  CHECK(CommandTable::arity_ok(*t.find("get"), 2));
  CHECK_FALSE(CommandTable::arity_ok(*t.find("get"), 3));
  CHECK(CommandTable::arity_ok(*t.find("del"), 5));
  pos.clear();
  std::vector<std::string_view> eval = {"eval", "return 1", "2", "k1", "k2", "arg"};
  CHECK(CommandTable::key_positions(*t.find("eval"), eval, &pos));
  CHECK(pos == std::vector<int>{3, 4});
  std::vector<std::string_view> bad = {"eval", "return 1", "5", "k1"};
  CHECK_FALSE(CommandTable::key_positions(*t.find("eval"), bad, &pos));
  pos.clear();
  std::vector<std::string_view> zu = {"zunionstore", "dst", "2", "a", "b", "WEIGHTS", "1", "2"};
  CHECK(CommandTable::key_positions(*t.find("zunionstore"), zu, &pos));
  CHECK(pos == std::vector<int>{1, 3, 4});
  pos.clear();
  std::vector<std::string_view> lm = {"lmpop", "2", "a", "b", "LEFT"};
  CHECK(CommandTable::key_positions(*t.find("lmpop"), lm, &pos));
  CHECK(pos == std::vector<int>{2, 3});
  CHECK(CommandTable::is_unsupported_type_command("XADD"));
  CHECK_FALSE(CommandTable::is_unsupported_type_command("BLPOP"));
  CHECK_FALSE(CommandTable::is_unsupported_type_command("LPUSH"));
  CHECK_FALSE(CommandTable::is_unsupported_type_command("get"));
}

TEST_CASE("writes are flagged so the sidecar can invalidate") {
  CommandTable t;
  for (auto name : {"set", "del", "incr", "expire", "flushdb", "mset", "append", "getdel"})
    CHECK((t.find(name)->flags & kWrite) != 0);
  for (auto name : {"get", "mget", "exists", "ttl"}) CHECK((t.find(name)->flags & kWrite) == 0);
}

TEST_CASE("a busy script lets only allow_busy commands and subcommands run") {
  CommandTable t;
  auto allowed = [&](std::vector<std::string_view> args) {
    return CommandTable::request_has(*t.find(args[0]), args, kAllowBusy);
  };
  CHECK(allowed({"shutdown", "nosave"}));
  CHECK(allowed({"MULTI"}));
  CHECK(allowed({"script", "KILL"}));
  CHECK_FALSE(allowed({"script", "flush"}));
  CHECK_FALSE(allowed({"script", "nosuch"}));
  CHECK_FALSE(allowed({"client", "id"}));
  CHECK_FALSE(allowed({"get", "k"}));
  CHECK_FALSE(allowed({"exec"}));
}

TEST_CASE("loading lets only loading commands and subcommands run") {
  CommandTable t;
  auto allowed = [&](std::vector<std::string_view> args) {
    return CommandTable::request_has(*t.find(args[0]), args, kLoading);
  };
  CHECK(allowed({"INFO"}));
  CHECK(allowed({"config", "GET", "dir"}));
  CHECK(allowed({"client", "id"}));
  CHECK(allowed({"shutdown", "save"}));
  CHECK_FALSE(allowed({"ping"}));  // as Redis 7.0: PING answers -LOADING
  CHECK_FALSE(allowed({"object", "encoding", "k"}));
  CHECK_FALSE(allowed({"memory", "usage", "k"}));
  CHECK_FALSE(allowed({"script", "kill"}));
  CHECK_FALSE(allowed({"get", "k"}));
  CHECK_FALSE(allowed({"save"}));
}
