// CLIENT for both servers (see session.h): ID, GETNAME, SETNAME, INFO, LIST, KILL, SETINFO,
// REPLY, NO-EVICT, HELP, as redis-server 7.0 answers them; a server's own subcommands (the L2's
// client-side caching) go to its Host.
#include <algorithm>
#include <vector>

#include "shared/resp/reply_writer.h"
#include "shared/session/connection_commands.h"
#include "shared/session/session.h"
#include "shared/util/numbers.h"

namespace tiercache::session {
namespace {

using util::iequals;

constexpr std::string_view kSyntaxError = "ERR syntax error";

constexpr std::string_view kCommonSubcommands[] = {"id",    "getname",  "setname", "info",
                                                   "list",  "kill",     "setinfo", "reply",
                                                   "help",  "no-evict"};
constexpr std::string_view kCommonHelp[] = {
    "CLIENT <subcommand> [<arg> ...]. Subcommands are:",
    "ID",
    "GETNAME",
    "SETNAME <name>",
    "INFO",
    "LIST [TYPE normal|pubsub] [ID id ...]",
    "KILL <ip:port> | KILL <filter> <value> ...",
    "SETINFO <attr> <value>",
    "NO-EVICT (ON|OFF)",
};

bool error(std::string& out, std::string_view msg) {
  resp::write_error(out, msg);
  return false;
}

bool valid_type(std::string_view t) {
  return iequals(t, "normal") || iequals(t, "pubsub") || iequals(t, "master") ||
         iequals(t, "replica");
}

// Whether a client of these figures is of CLIENT LIST/KILL's TYPE (no masters or replicas
// here).
bool of_type(std::string_view type, const ClientFigures& f) {
  if (iequals(type, "master") || iequals(type, "replica")) return false;
  return iequals(type, "pubsub") == (f.sub + f.psub > 0);
}

std::string client_line(Host& host, const Session& s) {
  ClientFigures f = host.figures(s);
  int64_t now = host.now_ms();
  std::string flags;
  if (f.sub + f.psub > 0) flags += 'P';
  if (s.in_multi) flags += 'x';
  flags += f.flags;
  if (s.no_evict) flags += 'e';
  if (flags.empty()) flags = "N";
  std::string l;
  l += "id=" + std::to_string(s.id) + " addr=" + s.addr + " laddr=" + s.laddr + " fd=-1";
  l += " name=" + s.name + " age=" + std::to_string((now - s.created_ms) / 1000);
  l += " idle=" + std::to_string((now - s.last_interaction_ms) / 1000) + " flags=" + flags;
  l += " db=" + std::to_string(s.db) + " sub=" + std::to_string(f.sub);
  l += " psub=" + std::to_string(f.psub) + " ssub=0 multi=";
  l += s.in_multi ? std::to_string(s.multi_queue.size()) : "-1";
  l += " qbuf=" + std::to_string(f.qbuf) + " qbuf-free=0 argv-mem=0 multi-mem=0";
  l += " obl=0 oll=0 omem=" + std::to_string(f.omem);
  l += " tot-mem=" + std::to_string(f.tot_mem);
  l += " events=r cmd=" + std::string(s.last_command) + " user=default redir=" + std::to_string(f.redir) +
       " resp=2\n";
  return l;
}

bool client_list(Host& host, std::span<const std::string_view> args, std::string& out) {
  std::string_view type;
  std::vector<uint64_t> ids;
  size_t argc = args.size();
  for (size_t i = 2; i < argc; ++i) {
    if (iequals(args[i], "type") && i + 1 < argc) {
      type = args[++i];
      if (!valid_type(type))
        return error(out, "ERR Unknown client type '" + std::string(type) + "'");
    } else if (iequals(args[i], "id") && i + 1 < argc) {
      for (++i; i < argc; ++i) {
        auto id = util::parse_int64(args[i]);
        if (!id || *id <= 0) return error(out, "ERR Invalid client ID");
        ids.push_back(static_cast<uint64_t>(*id));
      }
    } else {
      return error(out, kSyntaxError);
    }
  }
  std::string text;
  host.for_each_client([&](Session& o) {
    if (!ids.empty() && std::find(ids.begin(), ids.end(), o.id) == ids.end()) return;
    if (!type.empty() && !of_type(type, host.figures(o))) return;
    text += client_line(host, o);
  });
  resp::write_bulk(out, text);
  return true;
}

// CLIENT KILL <addr> (old form: OK or "No such client"; may kill itself) or CLIENT KILL
// <filter> <value> ... (the number killed; SKIPME yes by default).
bool client_kill(Host& host, Session& me, std::span<const std::string_view> args,
                 std::string& out) {
  size_t argc = args.size();
  int64_t want_id = -1;
  std::string_view want_addr, want_laddr, want_type;
  bool skipme = true;
  if (argc == 3) {
    want_addr = args[2];
    skipme = false;
  } else {
    if ((argc - 2) % 2 != 0) return error(out, kSyntaxError);
    for (size_t i = 2; i + 1 < argc; i += 2) {
      std::string_view k = args[i], v = args[i + 1];
      if (iequals(k, "id")) {
        auto id = util::parse_int64(v);
        if (!id || *id <= 0) return error(out, "ERR client-id should be greater than 0");
        want_id = *id;
      } else if (iequals(k, "addr")) {
        want_addr = v;
      } else if (iequals(k, "laddr")) {
        want_laddr = v;
      } else if (iequals(k, "type")) {
        if (!valid_type(v)) return error(out, "ERR Unknown client type '" + std::string(v) + "'");
        want_type = v;
      } else if (iequals(k, "user")) {
        if (v != "default") return error(out, "ERR No such user '" + std::string(v) + "'");
      } else if (iequals(k, "skipme")) {
        if (iequals(v, "yes"))
          skipme = true;
        else if (iequals(v, "no"))
          skipme = false;
        else
          return error(out, kSyntaxError);
      } else {
        return error(out, kSyntaxError);
      }
    }
  }
  std::vector<Session*> victims;
  host.for_each_client([&](Session& o) {
    if (want_id > 0 && o.id != static_cast<uint64_t>(want_id)) return;
    if (!want_addr.empty() && o.addr != want_addr) return;
    if (!want_laddr.empty() && o.laddr != want_laddr) return;
    if (!want_type.empty() && !of_type(want_type, host.figures(o))) return;
    if (skipme && &o == &me) return;
    victims.push_back(&o);
  });
  if (argc == 3 && victims.empty()) return error(out, "ERR No such client");
  for (Session* v : victims) {
    if (v == &me)
      host.close_after_reply(me);
    else
      host.close(*v);
  }
  if (argc == 3)
    resp::write_ok(out);
  else
    resp::write_integer(out, static_cast<int64_t>(victims.size()));
  return true;
}

bool client_help(Host& host, std::string& out) {
  auto own = host.client_help();
  resp::write_array_header(out, static_cast<int64_t>(std::size(kCommonHelp) + own.size()));
  for (auto l : kCommonHelp) resp::write_simple(out, l);
  for (auto l : own) resp::write_simple(out, l);
  return true;
}

}  // namespace

bool client_command(Host& host, Session& s, std::span<const std::string_view> args,
                    std::string& out) {
  std::string_view sub = args[1];
  size_t argc = args.size();
  if (iequals(sub, "id") && argc == 2) {
    resp::write_integer(out, static_cast<int64_t>(s.id));
    return true;
  }
  if (iequals(sub, "getname") && argc == 2) {
    if (s.name.empty())
      resp::write_null(out);
    else
      resp::write_bulk(out, s.name);
    return true;
  }
  if (iequals(sub, "setname") && argc == 3) {
    if (!valid_client_name(args[2]))
      return error(out, "ERR Client names cannot contain spaces, newlines or special characters.");
    s.name = std::string(args[2]);
    resp::write_ok(out);
    return true;
  }
  if (iequals(sub, "info") && argc == 2) {
    resp::write_bulk(out, client_line(host, s));
    return true;
  }
  if (iequals(sub, "list")) return client_list(host, args, out);
  if (iequals(sub, "kill") && argc >= 3) return client_kill(host, s, args, out);
  // Redis 7.2's SETINFO, which clients of 7.2 send on connect: accepted and ignored.
  if (iequals(sub, "setinfo") && argc == 4) {
    resp::write_ok(out);
    return true;
  }
  if (iequals(sub, "reply") && argc == 3) {
    if (iequals(args[2], "off") || iequals(args[2], "skip"))
      return error(out, "ERR tiercache does not support CLIENT REPLY OFF or SKIP");
    if (!iequals(args[2], "on")) return error(out, kSyntaxError);
    resp::write_ok(out);
    return true;
  }
  // Neither server evicts clients for memory, so every client already is what NO-EVICT asks.
  if (iequals(sub, "no-evict") && argc == 3) {
    if (iequals(args[2], "on"))
      s.no_evict = true;
    else if (iequals(args[2], "off"))
      s.no_evict = false;
    else
      return error(out, kSyntaxError);
    resp::write_ok(out);
    return true;
  }
  if (iequals(sub, "help") && argc == 2) return client_help(host, out);
  for (std::string_view own : host.client_subcommands())
    if (iequals(sub, own)) return host.client_subcommand(s, args, out);
  std::vector<std::string_view> known(std::begin(kCommonSubcommands), std::end(kCommonSubcommands));
  for (std::string_view own : host.client_subcommands()) known.push_back(own);
  return subcommand_error(out, args, "client", known);
}

}  // namespace tiercache::session
