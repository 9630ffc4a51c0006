// Connection and server commands: PING, ECHO, SELECT, QUIT, AUTH, HELLO, RESET, CLIENT, COMMAND,
// CONFIG, INFO, TIME, DBSIZE.
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "l2/commands/common.h"
#include "shared/glob/glob.h"

namespace tiercache::l2 {
namespace {

using namespace cmd;

void ping(CommandContext& ctx) {
  if (ctx.args.size() > 2) return error(ctx, resp::wrong_arity_error("ping"));
  if (ctx.client.subscribed()) {  // RESP2 subscribed mode answers with a push-like array
    resp::write_array_header(ctx.out, 2);
    resp::write_bulk(ctx.out, "pong");
    resp::write_bulk(ctx.out, ctx.args.size() == 2 ? ctx.args[1] : "");
    return;
  }
  if (ctx.args.size() == 2) return resp::write_bulk(ctx.out, ctx.args[1]);
  resp::write_simple(ctx.out, "PONG");
}

void echo(CommandContext& ctx) { resp::write_bulk(ctx.out, ctx.args[1]); }

void select(CommandContext& ctx) {
  auto v = util::parse_int64(ctx.args[1]);
  if (!v) return error(ctx, kNotInteger);
  if (*v < 0 || *v >= ctx.server.keyspace().num_dbs())
    return error(ctx, "ERR DB index is out of range");
  ctx.client.db = static_cast<int>(*v);
  resp::write_ok(ctx.out);
}

void quit(CommandContext& ctx) {
  resp::write_ok(ctx.out);
  ctx.client.close_after_reply();
}

// Compares in time independent of where the first difference is.
bool secure_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  size_t n = a.size() > b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

// Returns true when authenticated; writes the error otherwise.
bool try_auth(CommandContext& ctx, std::string_view user, std::string_view pass) {
  const std::string& required = ctx.server.config().requirepass;
  if (required.empty()) {
    error(ctx,
          "ERR AUTH <password> called without any password configured for the default user. "
          "Are you sure your configuration is correct?");
    return false;
  }
  if (user != "default" || !secure_equal(pass, required)) {
    error(ctx, "WRONGPASS invalid username-password pair or user is disabled.");
    return false;
  }
  ctx.client.set_authenticated(true);
  return true;
}

void auth(CommandContext& ctx) {
  if (ctx.args.size() > 3) return error(ctx, kSyntaxError);
  std::string_view user = ctx.args.size() == 3 ? ctx.args[1] : "default";
  std::string_view pass = ctx.args.back();
  if (try_auth(ctx, user, pass)) resp::write_ok(ctx.out);
}

bool valid_client_name(std::string_view name) {
  for (char c : name)
    if (c < '!' || c > '~') return false;
  return true;
}

void hello(CommandContext& ctx) {
  size_t i = 1;
  if (ctx.args.size() >= 2) {
    auto ver = util::parse_int64(ctx.args[1]);
    if (!ver) return error(ctx, "ERR Protocol version is not an integer or out of range");
    if (*ver != 2) return error(ctx, "NOPROTO unsupported protocol version");
    i = 2;
  }
  for (; i < ctx.args.size(); ++i) {
    bool more = i + 1 < ctx.args.size();
    if (is(ctx.args[i], "auth") && i + 2 < ctx.args.size()) {
      if (!try_auth(ctx, ctx.args[i + 1], ctx.args[i + 2])) return;
      i += 2;
    } else if (is(ctx.args[i], "setname") && more) {
      if (!valid_client_name(ctx.args[i + 1]))
        return error(ctx,
                     "ERR Client names cannot contain spaces, newlines or special characters.");
      ctx.client.name = std::string(ctx.args[i + 1]);
      ++i;
    } else {
      return error(ctx, "ERR Syntax error in HELLO option '" + std::string(ctx.args[i]) + "'");
    }
  }
  if (!ctx.client.authenticated)
    return error(ctx,
                 "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
                 "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client "
                 "and select the RESP protocol version at the same time");
  resp::write_array_header(ctx.out, 14);
  resp::write_bulk(ctx.out, "server");
  resp::write_bulk(ctx.out, "tiercache-l2");
  resp::write_bulk(ctx.out, "version");
  resp::write_bulk(ctx.out, "7.0.15");
  resp::write_bulk(ctx.out, "proto");
  resp::write_integer(ctx.out, 2);
  resp::write_bulk(ctx.out, "id");
  resp::write_integer(ctx.out, static_cast<int64_t>(ctx.client.id));
  resp::write_bulk(ctx.out, "mode");
  resp::write_bulk(ctx.out, "standalone");
  resp::write_bulk(ctx.out, "role");
  resp::write_bulk(ctx.out, "master");
  resp::write_bulk(ctx.out, "modules");
  resp::write_array_header(ctx.out, 0);
}

void reset(CommandContext& ctx) {
  Client& c = ctx.client;
  c.in_multi = false;
  c.multi_dirty = false;
  c.multi_queue.clear();
  ctx.server.unwatch_all(&c);
  for (const auto& ch : c.channels) ctx.server.unsubscribe(&c, ch, false);
  for (const auto& p : c.patterns) ctx.server.unsubscribe(&c, p, true);
  c.channels.clear();
  c.patterns.clear();
  c.db = 0;
  c.name.clear();
  c.set_authenticated(ctx.server.config().requirepass.empty());
  resp::write_simple(ctx.out, "RESET");
}

std::string client_info_line(Server& server, const Client& c) {
  int64_t now = server.now_ms();
  std::string flags = c.subscribed() ? "P" : (c.in_multi ? "x" : "N");
  std::string s;
  s += "id=" + std::to_string(c.id) + " addr=" + c.addr + " laddr=" + c.laddr + " fd=-1";
  s += " name=" + c.name + " age=" + std::to_string((now - c.created_ms) / 1000);
  s += " idle=" + std::to_string((now - c.last_interaction_ms) / 1000) + " flags=" + flags;
  s += " db=" + std::to_string(c.db) + " sub=" + std::to_string(c.channels.size());
  s += " psub=" + std::to_string(c.patterns.size()) + " ssub=0 multi=";
  s += c.in_multi ? std::to_string(c.multi_queue.size()) : "-1";
  s += " qbuf=" + std::to_string(c.input_bytes()) + " qbuf-free=0 argv-mem=0 multi-mem=0";
  s += " obl=0 oll=0 omem=" + std::to_string(c.output_bytes());
  s += " tot-mem=" + std::to_string(c.buffer_capacity() + sizeof(Client));
  s += " events=r cmd=" + std::string(c.last_command) + " user=default redir=-1 resp=2\n";
  return s;
}

void client(CommandContext& ctx) {
  std::string_view sub = ctx.args[1];
  Client& c = ctx.client;
  size_t argc = ctx.args.size();
  if (is(sub, "id") && argc == 2) return resp::write_integer(ctx.out, static_cast<int64_t>(c.id));
  if (is(sub, "getname") && argc == 2) {
    if (c.name.empty()) return resp::write_null(ctx.out);
    return resp::write_bulk(ctx.out, c.name);
  }
  if (is(sub, "setname") && argc == 3) {
    if (!valid_client_name(ctx.args[2]))
      return error(ctx, "ERR Client names cannot contain spaces, newlines or special characters.");
    c.name = std::string(ctx.args[2]);
    return resp::write_ok(ctx.out);
  }
  if (is(sub, "info") && argc == 2)
    return resp::write_bulk(ctx.out, client_info_line(ctx.server, c));
  if (is(sub, "list")) {
    std::string s;
    std::string_view type;
    std::vector<uint64_t> ids;
    for (size_t i = 2; i < argc; ++i) {
      if (is(ctx.args[i], "type") && i + 1 < argc) {
        type = ctx.args[++i];
        if (!is(type, "normal") && !is(type, "pubsub") && !is(type, "master") &&
            !is(type, "replica"))
          return error(ctx, "ERR Unknown client type '" + std::string(type) + "'");
      } else if (is(ctx.args[i], "id") && i + 1 < argc) {
        for (++i; i < argc; ++i) {
          auto id = util::parse_int64(ctx.args[i]);
          if (!id || *id <= 0) return error(ctx, "ERR Invalid client ID");
          ids.push_back(static_cast<uint64_t>(*id));
        }
      } else {
        return error(ctx, kSyntaxError);
      }
    }
    std::vector<const Client*> all;
    for (const auto& [id, other] : ctx.server.clients()) all.push_back(other);
    std::sort(all.begin(), all.end(),
              [](const Client* a, const Client* b) { return a->id < b->id; });
    for (const Client* o : all) {
      if (!ids.empty() && std::find(ids.begin(), ids.end(), o->id) == ids.end()) continue;
      if (!type.empty()) {
        bool pubsub = o->subscribed();
        if (is(type, "pubsub") != pubsub || is(type, "master") || is(type, "replica")) continue;
      }
      s += client_info_line(ctx.server, *o);
    }
    return resp::write_bulk(ctx.out, s);
  }
  if (is(sub, "kill")) {
    std::vector<Client*> victims;
    if (argc == 3) {  // old form: CLIENT KILL addr:port
      for (const auto& [id, o] : ctx.server.clients())
        if (o->addr == ctx.args[2]) victims.push_back(o);
      if (victims.empty()) return error(ctx, "ERR No such client");
      for (Client* v : victims) v->close();
      return resp::write_ok(ctx.out);
    }
    if ((argc - 2) % 2 != 0) return error(ctx, kSyntaxError);
    int64_t want_id = -1;
    std::string_view want_addr, want_laddr, want_type;
    bool skipme = true;
    for (size_t i = 2; i + 1 < argc; i += 2) {
      std::string_view k = ctx.args[i], v = ctx.args[i + 1];
      if (is(k, "id")) {
        auto id = util::parse_int64(v);
        if (!id || *id <= 0) return error(ctx, "ERR client-id should be greater than 0");
        want_id = *id;
      } else if (is(k, "addr")) {
        want_addr = v;
      } else if (is(k, "laddr")) {
        want_laddr = v;
      } else if (is(k, "type")) {
        want_type = v;
        if (!is(v, "normal") && !is(v, "pubsub") && !is(v, "master") && !is(v, "replica"))
          return error(ctx, "ERR Unknown client type '" + std::string(v) + "'");
      } else if (is(k, "user")) {
        if (v != "default") return error(ctx, "ERR No such user '" + std::string(v) + "'");
      } else if (is(k, "skipme")) {
        if (is(v, "yes"))
          skipme = true;
        else if (is(v, "no"))
          skipme = false;
        else
          return error(ctx, kSyntaxError);
      } else {
        return error(ctx, kSyntaxError);
      }
    }
    for (const auto& [id, o] : ctx.server.clients()) {
      if (want_id > 0 && o->id != static_cast<uint64_t>(want_id)) continue;
      if (!want_addr.empty() && o->addr != want_addr) continue;
      if (!want_laddr.empty() && o->laddr != want_laddr) continue;
      if (!want_type.empty() && (is(want_type, "pubsub") != o->subscribed() ||
                                 is(want_type, "master") || is(want_type, "replica")))
        continue;
      if (skipme && o == &c) continue;
      victims.push_back(o);
    }
    for (Client* v : victims) {
      if (v == &c)
        v->close_after_reply();
      else
        v->close();
    }
    return resp::write_integer(ctx.out, static_cast<int64_t>(victims.size()));
  }
  if (is(sub, "setinfo") && argc == 4) return resp::write_ok(ctx.out);
  if (is(sub, "reply") && argc == 3 && is(ctx.args[2], "on")) return resp::write_ok(ctx.out);
  if (is(sub, "help") && argc == 2)
    return help_reply(ctx,
                      {"CLIENT <subcommand> [<arg> ...]. Subcommands are:", "ID", "GETNAME",
                       "SETNAME <name>", "INFO", "LIST [TYPE normal|pubsub] [ID id ...]",
                       "KILL <ip:port> | KILL <filter> <value> ...", "SETINFO <attr> <value>"});
  subcommand_error(
      ctx, {"id", "getname", "setname", "info", "list", "kill", "setinfo", "reply", "help"});
}

void write_flag_names(std::string& out, uint32_t flags) {
  struct FlagName {
    uint32_t flag;
    std::string_view name;
  };
  static constexpr FlagName kNames[] = {
      {command::kWrite, "write"}, {command::kRead, "readonly"},  {command::kDenyOom, "denyoom"},
      {command::kAdmin, "admin"}, {command::kPubSub, "pubsub"},  {command::kNoScript, "noscript"},
      {command::kFast, "fast"},   {command::kNoAuth, "no_auth"},
  };
  int n = 0;
  for (const auto& f : kNames) n += (flags & f.flag) ? 1 : 0;
  resp::write_array_header(out, n);
  for (const auto& f : kNames)
    if (flags & f.flag) resp::write_simple(out, f.name);
}

void write_command_info(std::string& out, const command::CommandSpec& s) {
  resp::write_array_header(out, 10);
  resp::write_bulk(out, s.name);
  resp::write_integer(out, s.arity);
  write_flag_names(out, s.flags);
  resp::write_integer(out, s.key_spec == command::KeySpec::kRange ? s.first_key : 0);
  resp::write_integer(out, s.key_spec == command::KeySpec::kRange ? s.last_key : 0);
  resp::write_integer(out, s.key_spec == command::KeySpec::kRange ? s.key_step : 0);
  for (int i = 0; i < 4; ++i) resp::write_array_header(out, 0);  // acl, tips, key specs, subcmds
}

std::string_view command_group(const command::CommandSpec& s) {
  if (s.flags & command::kPubSub) return "pubsub";
  if (s.flags & command::kTransaction) return "transactions";
  if (s.flags & command::kScripting || s.name == "script") return "scripting";
  if (s.key_spec == command::KeySpec::kRange && s.first_key == 1) {
    static constexpr std::string_view kGeneric[] = {
        "del",    "unlink",  "exists",   "type",      "rename",     "renamenx",
        "expire", "pexpire", "expireat", "pexpireat", "expiretime", "pexpiretime",
        "ttl",    "pttl",    "persist",  "touch"};
    for (auto g : kGeneric)
      if (s.name == g) return "generic";
    return "string";
  }
  if (s.name == "keys" || s.name == "scan" || s.name == "randomkey") return "generic";
  if (s.name == "ping" || s.name == "echo" || s.name == "select" || s.name == "quit" ||
      s.name == "auth" || s.name == "hello" || s.name == "reset" || s.name == "client")
    return "connection";
  return "server";
}

void command_cmd(CommandContext& ctx) {
  const auto& table = ctx.server.commands();
  if (ctx.args.size() == 1) {
    resp::write_array_header(ctx.out, static_cast<int64_t>(table.all().size()));
    for (const auto& s : table.all()) write_command_info(ctx.out, s);
    return;
  }
  std::string_view sub = ctx.args[1];
  if (is(sub, "count") && ctx.args.size() == 2)
    return resp::write_integer(ctx.out, static_cast<int64_t>(table.all().size()));
  if (is(sub, "info")) {
    if (ctx.args.size() == 2) {
      resp::write_array_header(ctx.out, static_cast<int64_t>(table.all().size()));
      for (const auto& s : table.all()) write_command_info(ctx.out, s);
      return;
    }
    resp::write_array_header(ctx.out, static_cast<int64_t>(ctx.args.size() - 2));
    for (size_t i = 2; i < ctx.args.size(); ++i) {
      const command::CommandSpec* s = table.find(ctx.args[i]);
      if (s)
        write_command_info(ctx.out, *s);
      else
        resp::write_null_array(ctx.out);
    }
    return;
  }
  if (is(sub, "docs")) {
    // A short doc per command: enough for redis-cli's hints and for clients that list commands.
    std::vector<const command::CommandSpec*> specs;
    if (ctx.args.size() == 2) {
      for (const auto& s : table.all()) specs.push_back(&s);
    } else {
      for (size_t i = 2; i < ctx.args.size(); ++i)
        if (const command::CommandSpec* s = table.find(ctx.args[i])) specs.push_back(s);
    }
    resp::write_array_header(ctx.out, static_cast<int64_t>(specs.size() * 2));
    for (const command::CommandSpec* s : specs) {
      resp::write_bulk(ctx.out, s->name);
      resp::write_array_header(ctx.out, 4);
      resp::write_bulk(ctx.out, "summary");
      resp::write_bulk(ctx.out, "tiercache-l2 command; Redis 7 semantics");
      resp::write_bulk(ctx.out, "group");
      resp::write_bulk(ctx.out, command_group(*s));
    }
    return;
  }
  if (is(sub, "list")) {
    resp::write_array_header(ctx.out, static_cast<int64_t>(table.all().size()));
    for (const auto& s : table.all()) resp::write_bulk(ctx.out, s.name);
    return;
  }
  if (is(sub, "getkeys") && ctx.args.size() >= 3) {
    const command::CommandSpec* s = table.find(ctx.args[2]);
    if (!s) return error(ctx, "ERR Invalid command specified");
    std::vector<int> pos;
    auto rest = ctx.args.subspan(2);
    if (!command::CommandTable::arity_ok(*s, rest.size()))
      return error(ctx, "ERR Invalid number of arguments specified for command");
    if (!command::CommandTable::key_positions(*s, rest, &pos) || pos.empty())
      return error(ctx, "ERR The command has no key arguments");
    resp::write_array_header(ctx.out, static_cast<int64_t>(pos.size()));
    for (int p : pos) resp::write_bulk(ctx.out, rest[p]);
    return;
  }
  if (is(sub, "help") && ctx.args.size() == 2)
    return help_reply(ctx,
                      {"COMMAND [<subcommand>]. Subcommands are:", "COUNT", "INFO [<name> ...]",
                       "DOCS [<name> ...]", "LIST", "GETKEYS <full-command>"});
  subcommand_error(ctx, {"count", "info", "docs", "list", "getkeys", "help"});
}

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
      // What tools such as redis-benchmark ask of any Redis: no persistence here.
      if (glob::match(pattern, "save")) add("save", "");
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
      if (!found || !found->runtime)
        return error(ctx, "ERR Unknown option or number of arguments for CONFIG SET - '" +
                              std::string(ctx.args[i]) + "'");
      std::string why;
      if (!set_option(copy, ctx.args[i], ctx.args[i + 1], &why))
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
  r.add("ping", ping);
  r.add("echo", echo);
  r.add("select", select);
  r.add("quit", quit);
  r.add("auth", auth);
  r.add("hello", hello);
  r.add("reset", reset);
  r.add("client", client);
  r.add("command", command_cmd);
  r.add("config", config_cmd);
  r.add("info", info);
  r.add("time", time_cmd);
  r.add("dbsize", dbsize);
}

}  // namespace tiercache::l2
