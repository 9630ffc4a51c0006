// Server commands: CONFIG, INFO, TIME, DBSIZE. The connection commands (PING, AUTH, CLIENT,
// MULTI ...) are shared/session's, run through session_host.cc.
#include <sys/time.h>
#include <unistd.h>

#include <cstring>

#include "l2/commands/common.h"
#include "shared/glob/glob.h"

namespace tiercache::l2 {
namespace {

using namespace cmd;

void config_cmd(CommandContext& ctx) {
  std::string_view sub = ctx.args[1];
  Config& cfg = ctx.server.config();
  if (is(sub, "get") && ctx.args.size() >= 3) {
    std::vector<std::pair<std::string, std::string>> pairs;
    auto add = [&pairs](std::string_view k, std::string v) {
      for (const auto& p : pairs)
        if (p.first == k) return;
      pairs.emplace_back(std::string(k), std::move(v));
    };
    for (size_t i = 2; i < ctx.args.size(); ++i) {
      std::string pattern;
      for (char ch : ctx.args[i])
        pattern.push_back(static_cast<char>(tolower(static_cast<unsigned char>(ch))));
      for (const auto& spec : option_specs()) {
        if (spec.name == "requirepass" || !glob::match(pattern, spec.name)) continue;
        add(spec.name, spec.get(cfg));
      }
      if (glob::match(pattern, "requirepass")) add("requirepass", cfg.requirepass);
      // What tools such as redis-benchmark ask of any Redis: no append-only file here.
      if (glob::match(pattern, "appendonly")) add("appendonly", "no");
    }
    resp::write_array_header(ctx.out, static_cast<int64_t>(pairs.size() * 2));
    for (const auto& [k, v] : pairs) {
      resp::write_bulk(ctx.out, k);
      resp::write_bulk(ctx.out, v);
    }
    return;
  }
  if (is(sub, "set") && ctx.args.size() >= 4 && ctx.args.size() % 2 == 0) {
    Config copy = cfg;
    for (size_t i = 2; i + 1 < ctx.args.size(); i += 2) {
      const OptionSpec* found = nullptr;
      for (const auto& spec : option_specs())
        if (util::iequals(spec.name, ctx.args[i])) found = &spec;
      // Redis 7.0's protected configs, refused while enable-protected-configs is no (its
      // default, and the only mode here): where files are written is set at start only.
      if (found && (found->name == "dir" || found->name == "dbfilename"))
        return error(ctx, "ERR CONFIG SET failed (possibly related to argument '" +
                              std::string(ctx.args[i]) + "') - can't set protected config");
      if (!found || !found->runtime)
        return error(ctx, "ERR Unknown option or number of arguments for CONFIG SET - '" +
                              std::string(ctx.args[i]) + "'");
      std::string why;
      if (!found->set(copy, ctx.args[i + 1], &why))  // the bare reason, as Redis words it
        return error(ctx, "ERR CONFIG SET failed (possibly related to argument '" +
                              std::string(ctx.args[i]) + "') - " + why);
    }
    cfg = copy;
    ctx.server.apply_config();
    return resp::write_ok(ctx.out);
  }
  if (is(sub, "resetstat") && ctx.args.size() == 2) {
    ctx.server.stats() = ServerStats{};
    ctx.server.keyspace().reset_stats();
    return resp::write_ok(ctx.out);
  }
  if (is(sub, "rewrite") && ctx.args.size() == 2)
    return error(ctx,
                 "ERR CONFIG REWRITE is not supported: edit the TOML file given with --config");
  if (is(sub, "help") && ctx.args.size() == 2)
    return help_reply(
        ctx, {"CONFIG <subcommand> [<arg> ...]. Subcommands are:", "GET <pattern> [<pattern> ...]",
              "SET <name> <value> [<name> <value> ...]", "RESETSTAT"});
  subcommand_error(ctx, {"get", "set", "resetstat", "rewrite", "help"});
}

void info(CommandContext& ctx) {
  std::string section = ctx.args.size() >= 2 ? std::string(ctx.args[1]) : "default";
  for (char& ch : section) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  resp::write_bulk(ctx.out, ctx.server.info(section));
}

void time_cmd(CommandContext& ctx) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  resp::write_array_header(ctx.out, 2);
  resp::write_bulk(ctx.out, std::to_string(tv.tv_sec));
  resp::write_bulk(ctx.out, std::to_string(tv.tv_usec));
}

void dbsize(CommandContext& ctx) {
  resp::write_integer(ctx.out, static_cast<int64_t>(ctx.server.keyspace().db_size(ctx.client.db)));
}

}  // namespace

void register_server_commands(HandlerRegistry& r) {
  r.add("config", config_cmd);
  r.add("info", info);
  r.add("time", time_cmd);
  r.add("dbsize", dbsize);
}

}  // namespace tiercache::l2
