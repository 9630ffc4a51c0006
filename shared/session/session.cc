// The connection commands for both servers (see session.h): the checks before any command,
// MULTI's queue, and PING ... UNWATCH. CLIENT is in client_command.cc, COMMAND in
// command_command.cc.
#include "shared/session/session.h"

#include <cstdio>
#include <cstdlib>

#include "shared/resp/reply_writer.h"
#include "shared/session/connection_commands.h"
#include "shared/util/numbers.h"

namespace tiercache::session {

bool client_command(Host& host, Session& s, std::span<const std::string_view> args,
                    std::string& out);  // client_command.cc

bool Host::client_subcommand(Session&, std::span<const std::string_view>, std::string& out) {
  resp::write_error(out, "ERR tiercache: no handler");
  return false;
}

Commands::Commands(const command::CommandTable& table) : ids_(table.all().size(), Command::kNone) {
  for (const CommandRow& row : kCommandRows) {
    const command::CommandSpec* spec = table.find(row.name);
    if (spec == nullptr) {
      fprintf(stderr, "tiercache: connection command '%.*s' is not in the command table\n",
              static_cast<int>(row.name.size()), row.name.data());
      abort();
    }
    ids_[spec->id] = row.id;
  }
}

bool cross_protocol_attack(std::string_view name) {
  return util::iequals(name, "post") || util::iequals(name, "host:");
}

void reject(Host& host, Session& s, const command::CommandSpec* spec, std::string_view error,
            std::string& out) {
  if (spec != nullptr && (spec->flags & command::kExec)) {
    s.in_multi = false;
    s.multi_dirty = false;
    s.multi_queue.clear();
    host.unwatch(s);
    if (error.starts_with("ERR ")) error.remove_prefix(4);  // Redis formats it without its ERR
    resp::write_error(out, "EXECABORT Transaction discarded because of: " + std::string(error));
    return;
  }
  if (s.in_multi) s.multi_dirty = true;
  resp::write_error(out, error);
}

bool admit(Host& host, Session& s, const command::CommandSpec& spec,
           std::span<const std::string_view> args, std::string& out) {
  if (!command::CommandTable::arity_ok(spec, args.size())) {
    reject(host, s, &spec, resp::wrong_arity_error(spec.name), out);
    return false;
  }
  if ((spec.flags & command::kContainer) && args.size() >= 2) {
    const command::SubcommandSpec* sub = command::CommandTable::find_subcommand(spec, args[1]);
    if (sub == nullptr) {
      std::string upper(spec.name);
      for (char& c : upper) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
      reject(host, s, &spec,
             "ERR unknown subcommand '" + std::string(args[1].substr(0, 128)) + "'. Try " + upper +
                 " HELP.",
             out);
      return false;
    }
    if (!command::CommandTable::arity_ok(sub->arity, args.size())) {
      reject(host, s, &spec,
             resp::wrong_arity_error(std::string(spec.name) + "|" + std::string(sub->name)), out);
      return false;
    }
  }
  if (!s.authenticated && !(spec.flags & command::kNoAuth)) {
    reject(host, s, &spec, "NOAUTH Authentication required.", out);
    return false;
  }
  if (s.in_multi && (spec.flags & command::kNoMulti)) {
    reject(host, s, &spec, "ERR Command not allowed inside a transaction", out);
    return false;
  }
  return true;
}

bool admit_subscribed(Host& host, Session& s, const command::CommandSpec& spec, bool subscribed,
                      std::string& out) {
  if (!subscribed || (spec.flags & command::kSubscribed)) return true;
  reject(host, s, &spec,
         "ERR Can't execute '" + std::string(spec.name) +
             "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in "
             "this context",
         out);
  return false;
}

bool queue_in_multi(Session& s, const command::CommandSpec& spec,
                    std::span<const std::string_view> args, std::string& out) {
  if (!s.in_multi || (spec.flags & command::kNotQueued)) return false;
  s.multi_queue.emplace_back(args.begin(), args.end());
  resp::write_simple(out, "QUEUED");
  return true;
}

ExecStart take_transaction(Session& s, std::vector<std::vector<std::string>>* queue,
                           std::string& out) {
  if (!s.in_multi) {
    resp::write_error(out, "ERR EXEC without MULTI");
    return ExecStart::kNotInMulti;
  }
  s.in_multi = false;
  queue->clear();
  queue->swap(s.multi_queue);
  if (s.multi_dirty) {
    s.multi_dirty = false;
    queue->clear();
    resp::write_error(out, "EXECABORT Transaction discarded because of previous errors.");
    return ExecStart::kAborted;
  }
  return ExecStart::kRun;
}

namespace {

bool error(std::string& out, std::string_view msg) {
  resp::write_error(out, msg);
  return false;
}

// AUTH's credentials applied; false with the error written.
bool authenticate(Host& host, Session& s, std::string_view user, std::string_view password,
                  std::string& out) {
  std::string err = check_auth(host.requirepass(), user, password);
  if (!err.empty()) return error(out, err);
  host.set_authenticated(s, true);
  return true;
}

void drop_transaction(Session& s) {
  s.in_multi = false;
  s.multi_dirty = false;
  s.multi_queue.clear();
}

}  // namespace

bool run(Command id, Host& host, Session& s, std::span<const std::string_view> args,
         std::string& out) {
  switch (id) {
    case Command::kPing:
      if (args.size() > 2) return error(out, resp::wrong_arity_error("ping"));
      if (host.subscribed(s)) {  // RESP2 subscribed mode: a push-like array
        resp::write_array_header(out, 2);
        resp::write_bulk(out, "pong");
        resp::write_bulk(out, args.size() == 2 ? args[1] : "");
      } else if (args.size() == 2) {
        resp::write_bulk(out, args[1]);
      } else {
        resp::write_simple(out, "PONG");
      }
      return true;
    case Command::kEcho:
      resp::write_bulk(out, args[1]);
      return true;
    case Command::kSelect: {
      // Redis checks cluster mode between the integer and the range (selectCommand).
      const auto index = util::parse_int64(args[1]);
      if (index && *index != 0 && host.cluster_mode())
        return error(out, "ERR SELECT is not allowed in cluster mode");
      int db = 0;
      std::string err = parse_select(args[1], host.databases(), &db);
      if (!err.empty()) return error(out, err);
      s.db = db;
      resp::write_ok(out);
      return true;
    }
    case Command::kQuit:
      resp::write_ok(out);
      host.close_after_reply(s);
      return true;
    case Command::kAuth: {
      std::string_view user, password;
      std::string err = parse_auth(args, &user, &password);
      if (!err.empty()) return error(out, err);
      if (!authenticate(host, s, user, password, out)) return false;
      resp::write_ok(out);
      return true;
    }
    case Command::kHello: {
      HelloRequest req;
      std::string err = parse_hello(args, &req);
      if (!err.empty()) return error(out, err);
      if (req.has_auth && !authenticate(host, s, req.user, req.password, out)) return false;
      if (!s.authenticated) return error(out, kHelloNoAuth);
      if (req.has_name) s.name = std::string(req.name);
      write_hello(out, host.server_name(), static_cast<int64_t>(s.id));
      return true;
    }
    case Command::kReset:  // as Redis's clearClientConnectionState: back to a new connection
      drop_transaction(s);
      host.unwatch(s);
      host.reset(s);
      s.db = 0;
      s.name.clear();  // CLIENT NO-EVICT stays, as in Redis 7.0 (7.2 clears it)
      host.set_authenticated(s, host.requirepass().empty());
      resp::write_simple(out, "RESET");
      return true;
    case Command::kClient:
      return client_command(host, s, args, out);
    case Command::kCommand:
      return command_command(host.commands(), args, host.server_name(), out);
    case Command::kMulti:
      // Not a refusal: the transaction goes on (Redis does not mark it).
      if (s.in_multi) return error(out, "ERR MULTI calls can not be nested");
      drop_transaction(s);
      s.in_multi = true;
      resp::write_ok(out);
      return true;
    case Command::kDiscard:
      if (!s.in_multi) return error(out, "ERR DISCARD without MULTI");
      drop_transaction(s);
      host.unwatch(s);
      resp::write_ok(out);
      return true;
    case Command::kWatch:
      if (s.in_multi) return error(out, "ERR WATCH inside MULTI is not allowed");
      return host.watch(s, args.subspan(1), out);
    case Command::kUnwatch:
      host.unwatch(s);
      resp::write_ok(out);
      return true;
    case Command::kNone:
      break;
  }
  return error(out, "ERR tiercache: no handler");
}

}  // namespace tiercache::session
