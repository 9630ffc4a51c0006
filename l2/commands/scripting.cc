// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP. The work is done by
// scripting::LuaEngine (l2/scripting/); these handlers parse the subcommands.
#include "l2/commands/common.h"
#include "l2/scripting/lua_engine.h"

namespace tiercache::l2 {
namespace {

using namespace cmd;
using scripting::LuaEngine;

void eval(CommandContext& ctx) { ctx.server.lua().eval(ctx, false, false); }
void evalsha(CommandContext& ctx) { ctx.server.lua().eval(ctx, true, false); }
void eval_ro(CommandContext& ctx) { ctx.server.lua().eval(ctx, false, true); }
void evalsha_ro(CommandContext& ctx) { ctx.server.lua().eval(ctx, true, true); }

void script(CommandContext& ctx) {
  LuaEngine& lua = ctx.server.lua();
  std::string_view sub = ctx.args[1];
  size_t argc = ctx.args.size();
  if (is(sub, "load") && argc == 3) {
    char sha[40];
    std::string error;
    if (!lua.load(ctx.args[2], sha, &error)) return cmd::error(ctx, error);
    return resp::write_bulk(ctx.out, std::string_view(sha, 40));
  }
  if (is(sub, "exists") && argc >= 3) {
    resp::write_array_header(ctx.out, static_cast<int64_t>(argc - 2));
    for (size_t i = 2; i < argc; ++i) resp::write_integer(ctx.out, lua.exists(ctx.args[i]) ? 1 : 0);
    return;
  }
  if (is(sub, "flush") && argc >= 2) {
    if (argc > 3 || (argc == 3 && !is(ctx.args[2], "sync") && !is(ctx.args[2], "async")))
      return cmd::error(ctx, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    lua.flush();
    return resp::write_ok(ctx.out);
  }
  if (is(sub, "kill") && argc == 2) {
    switch (lua.kill()) {
      case LuaEngine::KillResult::kNotBusy:
        return cmd::error(ctx, "NOTBUSY No scripts in execution right now.");
      case LuaEngine::KillResult::kUnkillable:
        return cmd::error(ctx,
                          "UNKILLABLE Sorry the script already executed write commands against the "
                          "dataset. You can either wait the script termination or kill the server "
                          "in a hard way using the SHUTDOWN NOSAVE command.");
      case LuaEngine::KillResult::kKilled:
        return resp::write_ok(ctx.out);
    }
  }
  if (is(sub, "debug") && argc == 3)
    return cmd::error(ctx, "ERR SCRIPT DEBUG is not supported by tiercache-l2");
  if (is(sub, "help") && argc == 2) {
    return help_reply(
        ctx, {"SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
              "EXISTS <sha1> [<sha1> ...]",
              "    Return information about the existence of the scripts in the script cache.",
              "FLUSH [ASYNC|SYNC]", "    Flush the Lua scripts cache.", "KILL",
              "    Kill the currently executing Lua script.", "LOAD <script>",
              "    Load a script into the scripts cache without executing it.", "HELP",
              "    Prints this help."});
  }
  subcommand_error(ctx, {"load", "exists", "flush", "kill", "debug", "help"});
}

}  // namespace

void register_scripting_commands(HandlerRegistry& r) {
  r.add("eval", eval);
  r.add("evalsha", evalsha);
  r.add("eval_ro", eval_ro);
  r.add("evalsha_ro", evalsha_ro);
  r.add("script", script);
}

}  // namespace tiercache::l2
