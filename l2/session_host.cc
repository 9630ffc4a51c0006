// tiercache-l2's side of the connection commands (see session_host.h), and the handler that
// runs them: every connection command of the table is registered to connection_command, which
// hands it to shared/session by its id. CLIENT's client-side caching subcommands (TRACKING,
// CACHING, GETREDIR, TRACKINGINFO) are this server's own: the rules are in
// l2/tracking/tracker.h; these handlers parse and reply.
#include "l2/session_host.h"

#include <algorithm>
#include <memory>

#include "l2/client.h"
#include "l2/commands/common.h"
#include "l2/server.h"

namespace tiercache::l2 {
namespace {

Client& client_of(session::Session& s) { return static_cast<Client&>(s); }
const Client& client_of(const session::Session& s) { return static_cast<const Client&>(s); }

constexpr std::string_view kOwnSubcommands[] = {"tracking",     "caching", "getredir",
                                                "trackinginfo", "unblock", "pause",
                                                "unpause"};
constexpr std::string_view kOwnHelp[] = {
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]", "CACHING (YES|NO)", "GETREDIR", "TRACKINGINFO",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]", "PAUSE <timeout> [WRITE|ALL]", "UNPAUSE"};

// CLIENT TRACKINGINFO: the RESP2 form of Redis's map (flags, redirect, prefixes).
void write_trackinginfo(const tracking::Info& info, std::string& out) {
  resp::write_array_header(out, 6);
  resp::write_bulk(out, "flags");
  resp::write_array_header(out, static_cast<int64_t>(info.flags.size()));
  for (auto f : info.flags) resp::write_bulk(out, f);
  resp::write_bulk(out, "redirect");
  resp::write_integer(out, info.redirect);
  resp::write_bulk(out, "prefixes");
  resp::write_array_header(out, static_cast<int64_t>(info.prefixes.size()));
  for (const auto& p : info.prefixes) resp::write_bulk(out, p);
}

// The handler of every connection command (PING ... UNWATCH): shared/session runs it.
void connection_command(CommandContext& ctx) {
  Server& server = ctx.server;
  session::Command id = server.session_commands().find(ctx.spec);
  if (!session::run(id, server.session_host(), ctx.client, ctx.args, ctx.out))
    server.stats().total_error_replies++;
}

// The host: each method applies shared/session's decision to an l2::Client.
class SessionHost final : public session::Host {
 public:
  explicit SessionHost(Server& server) : server_(server) {}

  std::string_view server_name() const override { return "tiercache-l2"; }
  const command::CommandTable& commands() const override { return server_.commands(); }
  int databases() const override { return server_.keyspace().num_dbs(); }
  std::string_view requirepass() const override { return server_.config().requirepass; }
  int64_t now_ms() const override { return server_.now_ms(); }
  void set_authenticated(session::Session& s, bool yes) override {
    client_of(s).set_authenticated(yes);
  }
  bool subscribed(const session::Session& s) const override { return client_of(s).subscribed(); }
  void close_after_reply(session::Session& s) override { client_of(s).close_after_reply(); }
  void close(session::Session& s) override { client_of(s).close(); }

  void reset(session::Session& s) override {
    Client& c = client_of(s);
    for (const auto& ch : c.channels) server_.unsubscribe(&c, ch, false);
    for (const auto& p : c.patterns) server_.unsubscribe(&c, p, true);
    c.channels.clear();
    c.patterns.clear();
    server_.tracker().disable(c.id);
  }

  bool watch(session::Session& s, std::span<const std::string_view> keys,
             std::string& out) override {
    Client& c = client_of(s);
    for (std::string_view key : keys) server_.watch_key(&c, c.db, key);
    resp::write_ok(out);
    return true;
  }

  void unwatch(session::Session& s) override { server_.unwatch_all(&client_of(s)); }

  session::ClientFigures figures(const session::Session& s) const override {
    const Client& c = client_of(s);
    session::ClientFigures f;
    f.sub = c.channels.size();
    f.psub = c.patterns.size();
    f.qbuf = c.input_bytes();
    f.omem = c.output_bytes();
    f.tot_mem = c.buffer_capacity() + sizeof(Client);
    f.flags = std::string(c.blocked ? "b" : "") + server_.tracker().list_flags(c.id);
    f.redir = server_.tracker().redirect(c.id);
    return f;
  }

  void for_each_client(const std::function<void(session::Session&)>& f) override {
    std::vector<Client*> all;
    for (const auto& [id, c] : server_.clients()) all.push_back(c);
    std::sort(all.begin(), all.end(),
              [](const Client* a, const Client* b) { return a->id < b->id; });
    for (Client* c : all) f(*c);
  }

  std::span<const std::string_view> client_subcommands() const override {
    return kOwnSubcommands;
  }
  std::span<const std::string_view> client_help() const override { return kOwnHelp; }
  bool client_subcommand(session::Session& s, std::span<const std::string_view> args,
                         std::string& out) override;

 private:
  Server& server_;
};

bool SessionHost::client_subcommand(session::Session& s, std::span<const std::string_view> args,
                                    std::string& out) {
  Client& c = client_of(s);
  std::string_view sub = args[1];
  size_t argc = args.size();
  tracking::Tracker& tracker = server_.tracker();
  std::string err;
  if (util::iequals(sub, "tracking") && argc >= 3) {  // ON|OFF [REDIRECT id] [PREFIX p ...] ...
    tracking::Request req;
    err = tracking::parse_request(args, server_.peers(), &req);
    if (err.empty()) {
      if (req.on)
        err = tracker.enable(c.id, req);
      else
        tracker.disable(c.id);
    }
    if (err.empty()) resp::write_ok(out);
  } else if (util::iequals(sub, "caching") && argc == 3) {
    err = tracker.caching(c.id, args[2]);
    if (err.empty()) resp::write_ok(out);
  } else if (util::iequals(sub, "getredir") && argc == 2) {
    resp::write_integer(out, tracker.redirect(c.id));
  } else if (util::iequals(sub, "trackinginfo") && argc == 2) {
    write_trackinginfo(tracker.info(c.id), out);
  } else if (util::iequals(sub, "unblock") && (argc == 3 || argc == 4)) {
    // CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 when that client was blocked (and is now answered).
    bool as_error = false;
    if (argc == 4 && util::iequals(args[3], "error"))
      as_error = true;
    else if (argc == 4 && !util::iequals(args[3], "timeout"))
      err = "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR";
    auto id = util::parse_int64(args[2]);
    if (err.empty() && !id) err = "ERR value is not an integer or out of range";
    if (err.empty()) {
      bool done = *id > 0 && server_.blocking().unblock(static_cast<uint64_t>(*id), as_error);
      resp::write_integer(out, done ? 1 : 0);
    }
  } else if (util::iequals(sub, "pause") && argc >= 3) {
    err = server_.pause().pause(args);
    if (err.empty()) resp::write_ok(out);
  } else if (util::iequals(sub, "unpause") && argc == 2) {
    server_.pause().unpause();
    resp::write_ok(out);
  } else {  // one of ours with the wrong number of arguments
    return session::subcommand_error(out, args, "client", kOwnSubcommands);
  }
  if (err.empty()) return true;
  resp::write_error(out, err);
  return false;
}

}  // namespace

std::unique_ptr<session::Host> make_session_host(Server& server) {
  return std::make_unique<SessionHost>(server);
}

void register_connection_commands(HandlerRegistry& r) {
  for (const session::CommandRow& row : session::kCommandRows) r.add(row.name, connection_command);
}

}  // namespace tiercache::l2
