// The sidecar's connection commands: PING, ECHO, SELECT, QUIT, AUTH, HELLO, RESET, CLIENT,
// COMMAND, MULTI, DISCARD, WATCH, UNWATCH. Their rules are shared with tiercache-l2
// (shared/session/); this file applies them to the sidecar's client state.
#include "shared/session/connection_commands.h"

#include "shared/resp/reply_writer.h"
#include "shared/util/numbers.h"
#include "sidecar/clock.h"
#include "sidecar/sidecar.h"
#include "sidecar/state.h"

namespace tiercache::sidecar {

using util::iequals;

namespace {

std::string client_line(const net::Connection& c, const ClientState& st, int64_t now_ms) {
  std::string s = "id=" + std::to_string(c.id()) + " addr=" + st.addr + " fd=-1 name=" + st.name;
  s += " age=" + std::to_string((now_ms - st.created_ms) / 1000);
  s += " idle=" + std::to_string((now_ms - st.last_ms) / 1000);
  s += " flags=" + std::string(st.subscriptions > 0 ? "P" : (st.in_multi ? "x" : "N"));
  s += " db=" + std::to_string(st.db) + " sub=" + std::to_string(st.subscriptions) + " psub=0";
  s += " multi=" + (st.in_multi ? std::to_string(st.queue.size()) : std::string("-1"));
  s += " qbuf=" + std::to_string(c.input_bytes()) + " omem=" + std::to_string(c.output_bytes());
  s += " deferred=" + std::to_string(c.deferred_count()) + " user=default resp=2\n";
  return s;
}

// Applies AUTH's credentials; false with the error written.
bool authenticate(net::Connection& c, ClientState& st, const Config& config, std::string& out,
                  std::string_view user, std::string_view password) {
  std::string err = session::check_auth(config.requirepass, user, password);
  if (!err.empty()) {
    resp::write_error(out, err);
    return false;
  }
  st.authenticated = true;
  c.parser().set_authenticated(true);
  return true;
}

}  // namespace

void Sidecar::connection_command(Handler h, net::Connection& c, ClientState& st,
                                 std::span<const std::string_view> args) {
  std::string& out = c.reply();
  switch (h) {
    case Handler::kPing:
      if (args.size() > 2) {
        resp::write_error(out, resp::wrong_arity_error("ping"));
      } else if (st.subscriptions > 0) {
        resp::write_array_header(out, 2);
        resp::write_bulk(out, "pong");
        resp::write_bulk(out, args.size() == 2 ? args[1] : "");
      } else if (args.size() == 2) {
        resp::write_bulk(out, args[1]);
      } else {
        resp::write_simple(out, "PONG");
      }
      return;
    case Handler::kEcho:
      resp::write_bulk(out, args[1]);
      return;
    case Handler::kSelect: {
      int db = 0;
      std::string err = session::parse_select(args[1], config_.databases, &db);
      if (!err.empty()) {
        resp::write_error(out, err);
      } else {
        st.db = db;
        resp::write_ok(out);
      }
      return;
    }
    case Handler::kQuit:
      resp::write_ok(out);
      c.close_after_reply();
      return;
    case Handler::kAuth: {
      std::string_view user, password;
      std::string err = session::parse_auth(args, &user, &password);
      if (!err.empty())
        resp::write_error(out, err);
      else if (authenticate(c, st, config_, out, user, password))
        resp::write_ok(out);
      return;
    }
    case Handler::kHello: {
      session::HelloRequest req;
      std::string err = session::parse_hello(args, &req);
      if (!err.empty()) {
        resp::write_error(out, err);
        return;
      }
      if (req.has_auth && !authenticate(c, st, config_, out, req.user, req.password)) return;
      if (!st.authenticated) {
        resp::write_error(out, session::kHelloNoAuth);
        return;
      }
      if (req.has_name) st.name = std::string(req.name);
      session::write_hello(out, "tiercache-sidecar", static_cast<int64_t>(c.id()));
      return;
    }
    case Handler::kReset:  // as Redis's clearClientConnectionState: back to a new connection
      st.db = 0;
      st.name.clear();
      st.authenticated = config_.requirepass.empty();
      st.in_multi = st.multi_dirty = false;
      st.queue.clear();
      if (st.pubsub) {
        st.pubsub->stop();
        st.pubsub.reset();
      }
      st.subscriptions = 0;
      resp::write_simple(out, "RESET");
      return;
    case Handler::kClient: {
      std::string_view sub = args[1];
      int64_t now = static_cast<int64_t>(wall_us() / 1000);
      if (iequals(sub, "id")) {
        resp::write_integer(out, static_cast<int64_t>(c.id()));
      } else if (iequals(sub, "getname") && args.size() == 2) {
        if (st.name.empty())
          resp::write_null(out);
        else
          resp::write_bulk(out, st.name);
      } else if (iequals(sub, "setname") && args.size() == 3) {
        st.name = std::string(args[2]);
        resp::write_ok(out);
      } else if (iequals(sub, "list")) {
        std::string s;
        for (const auto& [id, other] : conns_)
          if (other->user) s += client_line(*other, *static_cast<ClientState*>(other->user), now);
        resp::write_bulk(out, s);
      } else if (iequals(sub, "info")) {
        resp::write_bulk(out, client_line(c, st, now));
      } else if (iequals(sub, "kill") && args.size() == 4 && iequals(args[2], "id")) {
        auto id = util::parse_int64(args[3]);
        net::Connection* victim = id ? connection(static_cast<uint64_t>(*id)) : nullptr;
        if (victim == &c)
          c.close_after_reply();
        else if (victim)
          victim->close();
        resp::write_integer(out, victim ? 1 : 0);
      } else if (iequals(sub, "setinfo") || iequals(sub, "reply")) {
        resp::write_ok(out);
      } else {
        resp::write_error(out,
                          "ERR unknown subcommand '" + std::string(sub) + "'. Try CLIENT HELP.");
      }
      return;
    }
    case Handler::kCommand:
      session::command_command(table_, args, "tiercache-sidecar", out);
      return;
    case Handler::kMulti:
      if (st.in_multi) {
        resp::write_error(out, "ERR MULTI calls can not be nested");
      } else {
        st.in_multi = true;
        st.multi_dirty = false;
        st.queue.clear();
        resp::write_ok(out);
      }
      return;
    case Handler::kDiscard:
      if (!st.in_multi) {
        resp::write_error(out, "ERR DISCARD without MULTI");
      } else {
        st.in_multi = false;
        st.queue.clear();
        resp::write_ok(out);
      }
      return;
    case Handler::kWatch:
      resp::write_error(out,
                        "ERR WATCH is not supported through tiercache-sidecar (it needs a "
                        "connection of its own to L2); use MULTI/EXEC or a Lua script");
      return;
    case Handler::kUnwatch:
      resp::write_ok(out);
      return;
    case Handler::kBlocking:
      resp::write_error(out,
                        "ERR blocking commands are not supported through tiercache-sidecar yet "
                        "(they need a connection of their own to L2); connect to L2 directly");
      return;
    default:  // not a connection command: dispatch.cc does not send it here
      resp::write_error(out, "ERR tiercache: no handler");
      return;
  }
}

}  // namespace tiercache::sidecar
