// CLIENT and its subcommands: ID, GETNAME/SETNAME, INFO, LIST, KILL, SETINFO, UNBLOCK, REPLY, and
// client-side caching: TRACKING, CACHING, GETREDIR, TRACKINGINFO (the rules are in
// l2/tracking/tracker.h; these handlers parse and reply).
#include <algorithm>

#include "l2/commands/common.h"
#include "shared/session/connection_commands.h"

namespace tiercache::l2 {
namespace {

using namespace cmd;

// CLIENT TRACKING on|off [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
void client_tracking(CommandContext& ctx) {
  tracking::Request req;
  std::string err = tracking::parse_request(ctx.args, ctx.server.peers(), &req);
  if (err.empty()) {
    if (req.on)
      err = ctx.server.tracker().enable(ctx.client.id, req);
    else
      ctx.server.tracker().disable(ctx.client.id);
  }
  if (!err.empty()) return error(ctx, err);
  resp::write_ok(ctx.out);
}

// CLIENT TRACKINGINFO: the RESP2 form of Redis's map (flags, redirect, prefixes).
void client_trackinginfo(CommandContext& ctx) {
  tracking::Info info = ctx.server.tracker().info(ctx.client.id);
  resp::write_array_header(ctx.out, 6);
  resp::write_bulk(ctx.out, "flags");
  resp::write_array_header(ctx.out, static_cast<int64_t>(info.flags.size()));
  for (auto f : info.flags) resp::write_bulk(ctx.out, f);
  resp::write_bulk(ctx.out, "redirect");
  resp::write_integer(ctx.out, info.redirect);
  resp::write_bulk(ctx.out, "prefixes");
  resp::write_array_header(ctx.out, static_cast<int64_t>(info.prefixes.size()));
  for (const auto& p : info.prefixes) resp::write_bulk(ctx.out, p);
}

// CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 when that client was blocked (and now answered).
void client_unblock(CommandContext& ctx) {
  bool as_error = false;
  if (ctx.args.size() == 4) {
    if (is(ctx.args[3], "error"))
      as_error = true;
    else if (!is(ctx.args[3], "timeout"))
      return error(ctx, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
  }
  auto id = int_arg(ctx, ctx.args[2]);
  if (!id) return;
  bool done = *id > 0 && ctx.server.blocking().unblock(static_cast<uint64_t>(*id), as_error);
  resp::write_integer(ctx.out, done ? 1 : 0);
}

std::string client_info_line(Server& server, const Client& c) {
  int64_t now = server.now_ms();
  std::string flags;
  if (c.subscribed()) flags += 'P';
  if (c.in_multi) flags += 'x';
  if (c.blocked) flags += 'b';
  flags += server.tracker().list_flags(c.id);
  if (flags.empty()) flags = "N";
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
  s += " events=r cmd=" + std::string(c.last_command) + " user=default redir=" +
       std::to_string(server.tracker().redirect(c.id)) + " resp=2\n";
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
    if (!session::valid_client_name(ctx.args[2]))
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
  if (is(sub, "tracking") && argc >= 3) return client_tracking(ctx);
  if (is(sub, "caching") && argc == 3) {
    std::string err = ctx.server.tracker().caching(c.id, ctx.args[2]);
    if (!err.empty()) return error(ctx, err);
    return resp::write_ok(ctx.out);
  }
  if (is(sub, "getredir") && argc == 2)
    return resp::write_integer(ctx.out, ctx.server.tracker().redirect(c.id));
  if (is(sub, "trackinginfo") && argc == 2) return client_trackinginfo(ctx);
  if (is(sub, "setinfo") && argc == 4) return resp::write_ok(ctx.out);
  if (is(sub, "unblock") && (argc == 3 || argc == 4)) return client_unblock(ctx);
  if (is(sub, "reply") && argc == 3 && is(ctx.args[2], "on")) return resp::write_ok(ctx.out);
  if (is(sub, "help") && argc == 2)
    return help_reply(ctx,
                      {"CLIENT <subcommand> [<arg> ...]. Subcommands are:", "ID", "GETNAME",
                       "SETNAME <name>", "INFO", "LIST [TYPE normal|pubsub] [ID id ...]",
                       "KILL <ip:port> | KILL <filter> <value> ...", "SETINFO <attr> <value>",
                       "UNBLOCK <clientid> [TIMEOUT|ERROR]",
                       "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
                       "         [OPTIN] [OPTOUT] [NOLOOP]",
                       "CACHING (YES|NO)", "GETREDIR", "TRACKINGINFO"});
  subcommand_error(ctx, {"id", "getname", "setname", "info", "list", "kill", "setinfo", "unblock", "reply",
                         "tracking", "caching", "getredir", "trackinginfo", "help"});
}

}  // namespace

void register_client_commands(HandlerRegistry& r) { r.add("client", client); }

}  // namespace tiercache::l2
