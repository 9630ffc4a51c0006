// Commands the sidecar answers itself (connection, CLIENT, COMMAND, INFO, MULTI/EXEC) and the
// client pub/sub relay.
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "shared/metrics/info_text.h"
#include "shared/resp/reply_writer.h"
#include "shared/util/numbers.h"
#include "sidecar/sidecar.h"
#include "sidecar/state.h"

namespace tiercache::sidecar {

using command::CommandSpec;
using util::iequals;

namespace {

using metrics::info_field;
using metrics::info_header;

struct InfoOp : Op {
  uint64_t conn_id, ticket;
  std::string local;
  InfoOp(uint64_t c, uint64_t t, std::string l) : conn_id(c), ticket(t), local(std::move(l)) {}
  void on_reply(Sidecar& s, const redisReply* r) override {
    net::Connection* c = s.connection(conn_id);
    if (c == nullptr) return;
    std::string text = local;
    if (!text.empty()) text += "\r\n";
    text += "# L2\r\n";
    if (r != nullptr && r->type == REDIS_REPLY_STRING) {
      std::string_view l2(r->str, r->len);
      size_t pos = 0;
      while (pos < l2.size()) {  // the L2's own section headers become "# L2 <name>"
        size_t nl = l2.find('\n', pos);
        std::string_view line =
            l2.substr(pos, nl == std::string_view::npos ? l2.npos : nl - pos + 1);
        if (line.substr(0, 2) == "# ") {
          text += "# L2 ";
          text += line.substr(2);
        } else if (line != "\r\n") {
          text += line;
        }
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
      }
    } else {
      info_field(text, "l2_status", r == nullptr ? "unavailable: " + s.l2().last_error() : "error");
    }
    resp::write_bulk(c->slot(ticket), text);
    c->complete(ticket);
  }
};

struct TxExecOp : Op {
  uint64_t conn_id, ticket;
  size_t n;
  bool has_publish;
  uint64_t seq;
  std::vector<invalidation::Group> groups;
  void on_reply(Sidecar& s, const redisReply* r) override {
    for (const auto& g : groups) {
      if (g.flush)
        s.invalidate_db(g.db);
      else
        for (const auto& k : g.keys) s.invalidate_key(static_cast<int>(g.db), k);
    }
    bool ok =
        r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == n + (has_publish ? 1 : 0);
    if (has_publish && !ok) s.bus().forget(seq);
    net::Connection* c = s.connection(conn_id);
    if (c == nullptr) return;
    std::string& out = c->slot(ticket);
    if (ok) {
      resp::write_array_header(out, static_cast<int64_t>(n));
      for (size_t i = 0; i < n; ++i) write_reply(out, r->element[i]);
    } else if (r == nullptr) {
      s.write_l2_error(out);
    } else {
      write_reply(out, r);  // EXECABORT, or nil
    }
    c->complete(ticket);
  }
};

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

}  // namespace

std::string Sidecar::info(std::string_view section) {
  std::string s;
  auto want = [section](std::string_view name) {  // every section is in the default INFO
    return metrics::info_wants(section, name, true);
  };
  if (want("server")) {
    info_header(s, "Server");
    info_field(s, "redis_version", "7.0.15");
    info_field(s, "tiercache_version", TIERCACHE_VERSION);
    info_field(s, "tiercache_role", "sidecar");
    info_field(s, "process_id", static_cast<uint64_t>(getpid()));
    info_field(s, "socket", config_.socket);
    info_field(s, "l2", config_.l2);
  }
  if (want("clients")) {
    info_header(s, "Clients");
    info_field(s, "connected_clients", conns_.size());
    info_field(s, "maxclients", static_cast<uint64_t>(config_.maxclients));
  }
  if (want("stats")) {
    info_header(s, "Stats");
    info_field(s, "total_connections_received", stats_.connections_received);
    info_field(s, "total_commands_processed", stats_.commands);
    info_field(s, "rejected_connections", stats_.rejected_connections);
    info_field(s, "protocol_errors", stats_.protocol_errors);
    info_field(s, "security_closes", stats_.security_closes);
    info_field(s, "client_query_buffer_limit_disconnections", stats_.query_buffer_limit_disconnections);
    info_field(s, "client_output_buffer_limit_disconnections",
          stats_.output_buffer_limit_disconnections);
  }
  if (want("tiercache")) {
    info_header(s, "Tiercache");
    l1::Stats l1s = l1_->stats();
    const BusStats& bs = bus_->stats();
    // A direct reader's miss comes here next as a GET: only its hits are extra reads.
    const uint64_t hits = stats_.l1_hits + l1s.reader_hits;
    const uint64_t reads = hits + stats_.l1_misses + stats_.l1_bypassed;
    char ratio[32];
    snprintf(ratio, sizeof ratio, "%.4f", reads ? static_cast<double>(hits) / reads : 0.0);
    info_field(s, "l1_hits", stats_.l1_hits);
    info_field(s, "l1_misses", stats_.l1_misses);
    info_field(s, "l1_bypassed", stats_.l1_bypassed);
    info_field(s, "l1_direct_hits", l1s.reader_hits);
    info_field(s, "l1_direct_misses", l1s.reader_misses);
    info_field(s, "l1_hit_ratio", ratio);
    info_field(s, "l1_segment", config_.shm_name);
    info_field(s, "l1_direct_max_staleness_ms", static_cast<uint64_t>(direct_max_staleness_ms()));
    info_field(s, "l1_items", l1s.items);
    info_field(s, "l1_bytes", l1s.bytes_used);
    info_field(s, "l1_capacity_bytes", l1s.capacity_bytes);
    info_field(s, "l1_evictions", l1s.evictions);
    info_field(s, "l1_expirations", l1s.expirations);
    info_field(s, "l1_flushes", stats_.l1_flushes);
    info_field(s, "fills", stats_.fills);
    info_field(s, "fills_discarded", stats_.fills_discarded);
    info_field(s, "coalesced_misses", stats_.coalesced_misses);
    info_field(s, "l2_fetches", stats_.l2_fetches);
    info_field(s, "writes", stats_.writes);
    info_field(s, "write_batches", stats_.write_batches);
    info_field(s, "invalidations_sent", stats_.invalidated_keys_sent);
    info_field(s, "invalidation_messages_sent", stats_.invalidation_messages_sent);
    info_field(s, "invalidations_received", stats_.invalidated_keys_received);
    info_field(s, "invalidation_messages_received", bs.received);
    info_field(s, "bus_healthy", bus_->healthy() ? 1 : 0);
    info_field(s, "bus_resets", bs.resets);
    info_field(s, "bus_gaps", bs.gaps);
    info_field(s, "bus_bad_messages", bs.bad_messages);
    info_field(s, "invalidation_lag_p50_us", bus_->lag_us().percentile(0.5));
    info_field(s, "invalidation_lag_p99_us", bus_->lag_us().percentile(0.99));
    info_field(s, "invalidation_lag_max_us", bus_->lag_us().max());
    info_field(s, "passthrough", stats_.passthrough);
    info_field(s, "l2_connected", l2_->connected() ? 1 : 0);
    info_field(s, "l2_errors", stats_.l2_errors);
    info_field(s, "l2_reconnects", l2_->reconnects());
    info_field(s, "l2_latency_p50_us", l2_->latency_us().percentile(0.5));
    info_field(s, "l2_latency_p99_us", l2_->latency_us().percentile(0.99));
  }
  return s;
}

bool Sidecar::local_command(net::Connection& c, ClientState& st, const CommandSpec& spec,
                            std::span<const std::string_view> args) {
  std::string_view name = spec.name;
  if (name == "ping") {
    if (args.size() > 2) {
      resp::write_error(c.reply(), resp::wrong_arity_error("ping"));
    } else if (st.subscriptions > 0) {
      std::string& out = c.reply();
      resp::write_array_header(out, 2);
      resp::write_bulk(out, "pong");
      resp::write_bulk(out, args.size() == 2 ? args[1] : "");
    } else if (args.size() == 2) {
      resp::write_bulk(c.reply(), args[1]);
    } else {
      resp::write_simple(c.reply(), "PONG");
    }
    return true;
  }
  if (name == "echo") {
    resp::write_bulk(c.reply(), args[1]);
    return true;
  }
  if (name == "select") {
    auto db = util::parse_int64(args[1]);
    if (!db)
      resp::write_error(c.reply(), "ERR value is not an integer or out of range");
    else if (*db < 0 || *db >= 16)
      resp::write_error(c.reply(), "ERR DB index is out of range");
    else {
      st.db = static_cast<int>(*db);
      resp::write_ok(c.reply());
    }
    return true;
  }
  if (name == "quit") {
    resp::write_ok(c.reply());
    c.close_after_reply();
    return true;
  }
  if (name == "auth") {
    std::string_view user = args.size() == 3 ? args[1] : "default";
    if (args.size() > 3)
      resp::write_error(c.reply(), "ERR syntax error");
    else if (config_.requirepass.empty())
      resp::write_error(c.reply(),
                        "ERR AUTH <password> called without any password configured for the "
                        "default user. Are you sure your configuration is correct?");
    else if (user != "default" || args.back() != config_.requirepass)
      resp::write_error(c.reply(), "WRONGPASS invalid username-password pair or user is disabled.");
    else {
      st.authenticated = true;
      c.parser().set_authenticated(true);
      resp::write_ok(c.reply());
    }
    return true;
  }
  if (name == "hello") {
    if (args.size() >= 2 && args[1] != "2") {
      resp::write_error(c.reply(), "NOPROTO unsupported protocol version");
      return true;
    }
    std::string& out = c.reply();
    resp::write_array_header(out, 14);
    for (auto [k, v] :
         {std::pair<std::string_view, std::string_view>{"server", "tiercache-sidecar"},
          {"version", "7.0.15"}}) {
      resp::write_bulk(out, k);
      resp::write_bulk(out, v);
    }
    resp::write_bulk(out, "proto");
    resp::write_integer(out, 2);
    resp::write_bulk(out, "id");
    resp::write_integer(out, static_cast<int64_t>(c.id()));
    resp::write_bulk(out, "mode");
    resp::write_bulk(out, "standalone");
    resp::write_bulk(out, "role");
    resp::write_bulk(out, "master");
    resp::write_bulk(out, "modules");
    resp::write_array_header(out, 0);
    return true;
  }
  if (name == "reset") {
    st.db = 0;
    st.in_multi = st.multi_dirty = false;
    st.queue.clear();
    if (st.pubsub) {
      st.pubsub->stop();
      st.pubsub.reset();
    }
    st.subscriptions = 0;
    resp::write_simple(c.reply(), "RESET");
    return true;
  }
  if (name == "client") {
    std::string_view sub = args[1];
    int64_t now = static_cast<int64_t>(wall_us() / 1000);
    if (iequals(sub, "id"))
      resp::write_integer(c.reply(), static_cast<int64_t>(c.id()));
    else if (iequals(sub, "getname") && args.size() == 2) {
      if (st.name.empty())
        resp::write_null(c.reply());
      else
        resp::write_bulk(c.reply(), st.name);
    } else if (iequals(sub, "setname") && args.size() == 3) {
      st.name = std::string(args[2]);
      resp::write_ok(c.reply());
    } else if (iequals(sub, "list")) {
      std::string s;
      for (const auto& [id, other] : conns_)
        if (other->user) s += client_line(*other, *static_cast<ClientState*>(other->user), now);
      resp::write_bulk(c.reply(), s);
    } else if (iequals(sub, "info")) {
      resp::write_bulk(c.reply(), client_line(c, st, now));
    } else if (iequals(sub, "kill") && args.size() == 4 && iequals(args[2], "id")) {
      auto id = util::parse_int64(args[3]);
      net::Connection* victim = id ? connection(static_cast<uint64_t>(*id)) : nullptr;
      if (victim == &c)
        c.close_after_reply();
      else if (victim)
        victim->close();
      resp::write_integer(c.reply(), victim ? 1 : 0);
    } else if (iequals(sub, "setinfo") || iequals(sub, "reply")) {
      resp::write_ok(c.reply());
    } else {
      resp::write_error(c.reply(),
                        "ERR unknown subcommand '" + std::string(sub) + "'. Try CLIENT HELP.");
    }
    return true;
  }
  if (name == "command") {
    std::string& out = c.reply();
    if (args.size() >= 2 && iequals(args[1], "count")) {
      resp::write_integer(out, static_cast<int64_t>(table_.all().size()));
    } else if (args.size() >= 2 && iequals(args[1], "docs")) {
      resp::write_array_header(out, 0);
    } else {
      resp::write_array_header(out, static_cast<int64_t>(table_.all().size()));
      for (const auto& s : table_.all()) {
        resp::write_array_header(out, 6);
        resp::write_bulk(out, s.name);
        resp::write_integer(out, s.arity);
        resp::write_array_header(out, 0);
        resp::write_integer(out, s.key_spec == command::KeySpec::kRange ? s.first_key : 0);
        resp::write_integer(out, s.key_spec == command::KeySpec::kRange ? s.last_key : 0);
        resp::write_integer(out, s.key_spec == command::KeySpec::kRange ? s.key_step : 0);
      }
    }
    return true;
  }
  if (name == "info") {
    std::string section = args.size() >= 2 ? std::string(args[1]) : "default";
    for (char& ch : section) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
    bool with_l2 =
        section == "default" || section == "all" || section == "everything" || section == "l2";
    std::string local = section == "l2" ? std::string() : info(section);
    if (!with_l2) {
      resp::write_bulk(c.reply(), local);
      return true;
    }
    std::string_view q[] = {"INFO"};
    send(st.db, q, new InfoOp(c.id(), c.defer(), std::move(local)));
    return true;
  }
  if (name == "multi") {
    if (st.in_multi) {
      resp::write_error(c.reply(), "ERR MULTI calls can not be nested");
    } else {
      st.in_multi = true;
      st.multi_dirty = false;
      st.queue.clear();
      resp::write_ok(c.reply());
    }
    return true;
  }
  if (name == "discard") {
    if (!st.in_multi)
      resp::write_error(c.reply(), "ERR DISCARD without MULTI");
    else {
      st.in_multi = false;
      st.queue.clear();
      resp::write_ok(c.reply());
    }
    return true;
  }
  if (name == "watch") {
    resp::write_error(c.reply(),
                      "ERR WATCH is not supported through tiercache-sidecar (it needs a connection "
                      "of its own to L2); use MULTI/EXEC or a Lua script");
    return true;
  }
  if (name == "unwatch") {
    resp::write_ok(c.reply());
    return true;
  }
  return false;
}

void Sidecar::cmd_exec(net::Connection& c, ClientState& st) {
  if (!st.in_multi) {
    resp::write_error(c.reply(), "ERR EXEC without MULTI");
    return;
  }
  st.in_multi = false;
  std::vector<std::vector<std::string>> queue;
  queue.swap(st.queue);
  if (st.multi_dirty) {
    st.multi_dirty = false;
    resp::write_error(c.reply(), "EXECABORT Transaction discarded because of previous errors.");
    return;
  }
  auto* op = new TxExecOp();
  op->conn_id = c.id();
  op->n = queue.size();
  std::vector<std::vector<std::string_view>> views(queue.size());
  for (size_t i = 0; i < queue.size(); ++i) {
    views[i].assign(queue[i].begin(), queue[i].end());
    const CommandSpec* spec = table_.find(views[i][0]);
    bool writes =
        spec && ((spec->flags & command::kWrite) ||
                 ((spec->flags & command::kScripting) && !(spec->flags & command::kRead)));
    if (writes) write_groups(st.db, *spec, views[i], &op->groups);
  }
  for (const auto& g : op->groups) {  // drop locally first, as for single writes
    if (g.flush)
      invalidate_db(g.db);
    else
      for (const auto& k : g.keys) invalidate_key(static_cast<int>(g.db), k);
  }
  op->has_publish = !op->groups.empty();
  op->ticket = c.defer();
  flush_batch();
  if (!l2_->connected()) {
    op->on_reply(*this, nullptr);
    delete op;
    return;
  }
  stats_.writes += op->groups.empty() ? 0 : 1;
  std::string_view multi[] = {"MULTI"};
  send(st.db, multi, nullptr);  // selects the client's db first
  for (auto& v : views)
    l2_->send(
        v, [](void*, const redisReply*, uint64_t) {}, this, 0);
  if (op->has_publish) {
    invalidation::Message m;
    m.origin = origin_;
    m.seq = ++seq_;
    m.sent_at_us = wall_us();
    m.groups = op->groups;
    op->seq = m.seq;
    msg_scratch_ = invalidation::encode(m);
    std::string_view pub[] = {"PUBLISH", config_.channel, msg_scratch_};
    l2_->send(
        pub, [](void*, const redisReply*, uint64_t) {}, this, 0);
    bus_->expect(m.seq, now_us());
    stats_.invalidation_messages_sent++;
  }
  std::string_view exec[] = {"EXEC"};
  l2_->send(
      exec,
      [](void* ctx, const redisReply* r, uint64_t tag) {
        auto* o = reinterpret_cast<Op*>(tag);
        o->on_reply(*static_cast<Sidecar*>(ctx), r);
        delete o;
      },
      this, reinterpret_cast<uint64_t>(op));
}

// ---- client pub/sub: a dedicated L2 connection per subscribing client -----------------------

void Sidecar::pubsub_command(net::Connection& c, ClientState& st,
                             std::span<const std::string_view> args) {
  if (!st.pubsub) {
    Endpoint ep;
    std::string err;
    parse_endpoint(config_.l2, &ep, &err);
    UpstreamOptions uo;
    uo.endpoint = ep;
    uo.password = config_.l2_password;
    uo.connect_timeout_ms = config_.l2_connect_timeout_ms;
    uo.request_timeout_ms = 1000000000;
    uo.reconnect_max_ms = config_.l2_reconnect_max_ms;
    st.sidecar = this;
    st.conn_id = c.id();
    // Callbacks get the client's state; stop() in on_closed silences them before it is freed.
    st.pubsub = std::make_unique<Upstream>(
        loop_, uo, "pubsub-" + std::to_string(c.id()),
        [](void* p, bool connected) {
          auto* s = static_cast<ClientState*>(p);
          net::Connection* conn = s->sidecar->connection(s->conn_id);
          if (conn == nullptr) return;
          if (!connected) {  // the subscription is gone: tell the client by closing
            s->sidecar->close_later(s->conn_id);
            return;
          }
          for (auto& cmd : s->pubsub_waiting) {
            std::vector<std::string_view> v(cmd.begin(), cmd.end());
            s->pubsub->send_push(v);
          }
          s->pubsub_waiting.clear();
        },
        &st);
    st.pubsub->set_push_handler(
        [](void* p, const redisReply* r) {
          auto* s = static_cast<ClientState*>(p);
          net::Connection* conn = s->sidecar->connection(s->conn_id);
          if (conn == nullptr || r == nullptr) return;
          if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
              r->element[2]->type == REDIS_REPLY_INTEGER &&
              r->element[0]->type == REDIS_REPLY_STRING) {
            std::string_view kind(r->element[0]->str, r->element[0]->len);
            if (kind.find("subscribe") != std::string_view::npos)
              s->subscriptions = r->element[2]->integer;
          }
          write_reply(conn->reply(), r);
          conn->flush();
          uint64_t limit = s->sidecar->config().client_output_buffer_limit;
          if (limit != 0 && conn->committed_output_bytes() > limit) {  // a stalled subscriber
            s->sidecar->stats().output_buffer_limit_disconnections++;
            s->sidecar->close_later(s->conn_id);
          }
        },
        &st);
    st.pubsub->start();
  }
  if (st.pubsub->connected())
    st.pubsub->send_push(args);
  else
    st.pubsub_waiting.emplace_back(args.begin(), args.end());
}

}  // namespace tiercache::sidecar
