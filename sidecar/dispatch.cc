// The sidecar's front end: a parsed request is checked (known, arity, AUTH, subscribed mode,
// MULTI) and handed to its handler by the id the handler table gives it (handlers.h). No
// command names are compared here: flags and handler ids decide.

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "shared/log/log.h"
#include "shared/resp/reply_writer.h"
#include "shared/session/session.h"
#include "sidecar/clock.h"
#include "sidecar/sidecar.h"
#include "sidecar/state.h"

namespace tiercache::sidecar {

using command::CommandSpec;
using command::CommandTable;

HandlerTable::HandlerTable(const CommandTable& table) {
  for (const CommandSpec& spec : table.all())
    rows_.push_back(Entry{(spec.flags & command::kBlocking) ? Handler::kBlocking
                          : is_write(spec)                    ? Handler::kWrite
                                                              : Handler::kPassthrough,
                          0});
  for (const session::CommandRow& row : session::kCommandRows)
    rows_[table.find(row.name)->id] = Entry{Handler::kSession, 0};
  for (const HandlerRow& row : kHandlerRows) {
    const CommandSpec* spec = table.find(row.name);
    if (spec == nullptr) {
      fprintf(stderr, "tiercache-sidecar: handler row for unknown command '%.*s'\n",
              static_cast<int>(row.name.size()), row.name.data());
      abort();
    }
    rows_[spec->id] = Entry{row.handler, row.flags};
  }
}

void Sidecar::on_request(net::Connection& c, std::span<const std::string_view> args) {
  auto& st = *static_cast<ClientState*>(c.user);
  stats_.commands++;
  const CommandSpec* spec = table_.find(args[0]);
  st.note_command(spec, args);
  if (spec == nullptr) {
    if (session::cross_protocol_attack(args[0])) {
      stats_.security_closes++;
      log::warn("possible cross-protocol attack on the sidecar: closing the connection");
      c.close();
      return;
    }
    session::reject(*session_, st, nullptr,
                    resp::unknown_command_error(args[0], args.data() + 1, args.size() - 1),
                    c.reply());
    return;
  }
  st.last_interaction_ms = static_cast<int64_t>(wall_us() / 1000);
  if (!session::admit(*session_, st, *spec, args, c.reply())) return;
  dispatch(c, st, *spec, args);
  if (config_.client_output_buffer_limit &&
      c.committed_output_bytes() > config_.client_output_buffer_limit) {
    stats_.output_buffer_limit_disconnections++;
    log::warn("client {} closed: output buffer over the limit", c.id());
    c.close();
  }
}

void Sidecar::dispatch(net::Connection& c, ClientState& st, const CommandSpec& spec,
                       std::span<const std::string_view> args) {
  if (!session::admit_subscribed(*session_, st, spec, st.subscriptions > 0, c.reply())) return;
  if (st.in_multi && !(spec.flags & command::kNotQueued) &&
      (handlers_.flags(spec) & kRefusedInMulti)) {
    session::reject(
        *session_, st, &spec,
        "ERR '" + std::string(spec.name) + "' inside MULTI is not supported by tiercache-sidecar",
        c.reply());
    return;
  }
  if (st.in_multi && cluster_ != nullptr && !(spec.flags & command::kNotQueued) &&
      !cluster::one_slot(spec, args)) {
    // As Redis Cluster: refused when queued (EXEC then answers EXECABORT).
    session::reject(*session_, st, &spec, std::string(cluster::kCrossSlot), c.reply());
    return;
  }
  if (session::queue_in_multi(st, spec, args, c.reply())) return;
  const Handler h = handlers_.handler(spec);
  if (st.pinned()) {  // everything that reaches the L2 goes over the client's own link
    switch (h) {
      case Handler::kGet:
      case Handler::kMget:
      case Handler::kExists:
      case Handler::kStrlen:  // not from L1: pinned.cc says why
        return passthrough(c, st, args);
      case Handler::kWrite:
        st.dedicated->use_db(st.db);
        return writes_.write(c, st.db, spec, args, st.dedicated.get());
      default:
        break;
    }
  }
  switch (h) {
    case Handler::kGet:
      return reads_.get(c, st.db, args[1]);
    case Handler::kMget:
      return reads_.mget(c, st.db, args);
    case Handler::kExists:  // relayed as it is when L1 cannot help
      if (!reads_.exists(c, st.db, args)) passthrough(c, st, args);
      return;
    case Handler::kStrlen:  // a miss: the L2 answers (absent, or not a string)
      if (!reads_.strlen(c, st.db, args)) passthrough(c, st, args);
      return;
    case Handler::kWrite:
      return writes_.write(c, st.db, spec, args);
    case Handler::kExec:
      return exec(c, st);
    case Handler::kSubscribe:
      // In subscribed mode from now on, as in Redis, before the L2 confirms: the commands
      // pipelined after it are refused; the confirmations then give the exact count.
      st.subscriptions = std::max<int64_t>(st.subscriptions, 1);
      return pubsub_command(c, st, args, false);
    case Handler::kUnsubscribe:
      return pubsub_command(c, st, args, true);
    case Handler::kInfo:
      return cmd_info(c, st, args);
    case Handler::kPassthrough:
      return passthrough(c, st, args);
    case Handler::kSession:
      session::run(session_commands_.find(spec), *session_, st, args, c.reply());
      return;
    case Handler::kBlocking:
      return blocking(c, st, spec, args);
    case Handler::kNotRelayed:
      resp::write_error(c.reply(),
                        "ERR tiercache-sidecar does not relay '" + std::string(spec.name) +
                            "': it would stop the L2 every host shares; send it to the L2 "
                            "directly");
      return;
  }
}

void Sidecar::exec(net::Connection& c, ClientState& st) {
  std::vector<std::vector<std::string>> queue;
  switch (session::take_transaction(st, &queue, c.reply())) {
    case session::ExecStart::kRun:
      if (cluster_ != nullptr && !cluster::one_slot(table_, queue)) {
        // As Redis Cluster: the transaction is discarded, its WATCH dropped.
        resp::write_error(c.reply(), cluster::kCrossSlot);
        return unwatch(st);
      }
      if (st.pinned()) {  // over the client's own link, where its WATCH is
        st.dedicated->use_db(st.db);
        writes_.exec(c, st.db, queue, st.dedicated.get());
      } else {
        writes_.exec(c, st.db, queue);
      }
      st.watching = false;  // EXEC unwatches, whatever it answers
      return;
    case session::ExecStart::kAborted:
      return unwatch(st);  // as Redis: EXECABORT unwatches too
    case session::ExecStart::kNotInMulti:
      return;
  }
}

void RelayOp::on_reply(const redisReply* r) {
  net::Connection* c = s.connection(conn_id);
  if (c == nullptr) return;
  std::string& out = c->slot(ticket);
  if (r == nullptr)
    s.write_l2_error(out);
  else
    write_reply(out, r);
  c->complete(ticket);
}

void Sidecar::passthrough(net::Connection& c, ClientState& st,
                          std::span<const std::string_view> args) {
  stats_.passthrough++;
  auto op = std::make_unique<RelayOp>(*this, c.id(), c.defer());
  if (st.pinned()) {
    st.dedicated->use_db(st.db);
    st.dedicated->send(args, std::move(op));
    return;
  }
  send(st.db, args, std::move(op));
}

void Sidecar::select_db(int db) {
  // A Redis Cluster has db 0 only (a client's SELECT of another is refused): never SELECT.
  if (!l2_->connected() || upstream_db_ == db || cluster_ != nullptr) return;
  std::string sel = std::to_string(db);
  std::string_view a[] = {"SELECT", sel};
  l2_->send(a, nullptr);
  upstream_db_ = db;
}

bool Sidecar::send(int db, std::span<const std::string_view> args,
                   std::unique_ptr<Completion> done) {
  writes_.flush();  // request order on the wire: earlier writes first
  select_db(db);
  return l2_->send(args, std::move(done));
}

void Sidecar::write_l2_error(std::string& out) {
  stats_.l2_errors++;
  resp::write_error(out, "ERR tiercache: L2 unavailable (" + l2_->last_error() + ")");
}

}  // namespace tiercache::sidecar
