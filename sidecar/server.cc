// tiercache-sidecar lifecycle and dispatch (see sidecar.h): start-up, accept, request routing,
// the per-tick write flush, heartbeats, shutdown.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <random>

#include "shared/resp/reply_writer.h"
#include "shared/util/numbers.h"
#include "sidecar/sidecar.h"
#include "sidecar/state.h"

namespace tiercache::sidecar {

using command::CommandSpec;
using command::CommandTable;

namespace {

// INFO fields that only grow (exported as Prometheus counters; every other number is a gauge).
constexpr std::string_view kCounterFields[] = {"total_connections_received",
                                               "total_commands_processed",
                                               "rejected_connections",
                                               "protocol_errors",
                                               "security_closes",
                                               "client_query_buffer_limit_disconnections",
                                               "client_output_buffer_limit_disconnections",
                                               "l1_hits",
                                               "l1_misses",
                                               "l1_bypassed",
                                               "l1_direct_hits",
                                               "l1_direct_misses",
                                               "l1_evictions",
                                               "l1_expirations",
                                               "l1_flushes",
                                               "fills",
                                               "fills_discarded",
                                               "coalesced_misses",
                                               "l2_fetches",
                                               "writes",
                                               "write_batches",
                                               "invalidations_sent",
                                               "invalidation_messages_sent",
                                               "invalidations_received",
                                               "invalidation_messages_received",
                                               "bus_resets",
                                               "bus_gaps",
                                               "bus_bad_messages",
                                               "passthrough",
                                               "l2_errors",
                                               "l2_reconnects"};
constexpr std::string_view kLabelFields[] = {"tiercache_version", "tiercache_role", "l2"};
constexpr std::string_view kSkipFields[] = {"process_id", "l1_segment",
                                            "l1_direct_max_staleness_ms"};

// The metrics endpoint's page: INFO, every section, converted (so it cannot drift from INFO).
std::string render_metrics(void* ctx) {
  net::PrometheusSchema schema{"tiercache_sidecar", kCounterFields, kLabelFields, kSkipFields};
  return net::info_to_prometheus(static_cast<Sidecar*>(ctx)->info("all"), schema);
}

}  // namespace

Sidecar::Sidecar(Config config)
    : config_(std::move(config)), loop_(uv_default_loop()), listener_(loop_, on_accept, this) {
  parser_limits_.max_bulk_len = config_.proto_max_bulk_len;
  conn_limits_.query_buffer_limit = config_.client_query_buffer_limit;
  std::random_device rd;
  origin_ = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(getpid());
}

Sidecar::~Sidecar() = default;

net::Connection* Sidecar::connection(uint64_t id) {
  auto it = conns_.find(id);
  return it == conns_.end() || it->second->closing() ? nullptr : it->second;
}

bool Sidecar::start(std::string* error) {
  l1::Options o;
  o.name = config_.shm_name;
  o.memory_bytes = config_.l1_memory;
  o.max_item_size = config_.l1_max_item_size;
  o.max_ttl_ms = static_cast<uint64_t>(config_.l1_max_ttl_ms);
  o.file_mode = static_cast<uint32_t>(config_.shm_mode);
  o.exclusive = true;  // two sidecars with one --shm-name would share entries: refuse
  l1_ = l1::Store::open(o, error);
  if (!l1_) return false;
  // Whatever the segment held, writes made elsewhere while no sidecar was listening are
  // unknown to us: start empty (an O(1) generation bump).
  l1_->flush_all();

  Endpoint ep;
  if (!parse_endpoint(config_.l2, &ep, error)) {
    *error = "--l2: " + *error;
    return false;
  }
  UpstreamOptions uo;
  uo.endpoint = ep;
  uo.password = config_.l2_password;
  uo.connect_timeout_ms = config_.l2_connect_timeout_ms;
  uo.request_timeout_ms = config_.l2_timeout_ms;
  uo.reconnect_max_ms = config_.l2_reconnect_max_ms;
  uo.max_reply_bytes = config_.proto_max_bulk_len + (1 << 20);
  l2_ = std::make_unique<Upstream>(loop_, uo, "l2", on_l2_state, this);
  UpstreamOptions bo = uo;
  bo.request_timeout_ms = 1000000000;  // the bus judges its own health (heartbeats)
  bus_ = std::make_unique<Bus>(loop_, bo, config_.channel, origin_, config_.bus_timeout_ms, this);

  if (!config_.socket.empty() &&
      !listener_.listen_unix(config_.socket, config_.socket_mode, 511, error))
    return false;
  if (config_.port != 0 && !listener_.listen_tcp(config_.bind, config_.port, 511, error))
    return false;
  if (config_.socket.empty() && config_.port == 0) {
    *error = "nothing to listen on: give --socket or --port";
    return false;
  }
  if (config_.metrics_port != 0) {
    metrics_ = std::make_unique<net::MetricsHttp>(loop_, render_metrics, this);
    if (!metrics_->listen(config_.metrics_bind, config_.metrics_port, error)) return false;
    spdlog::info("metrics on http://{}:{}/metrics", config_.metrics_bind, metrics_->port());
  }
  l2_->start();
  bus_->start();
  return true;
}

int Sidecar::run() {
  signals_.start(loop_, on_stop_signal, this);
  uv_check_init(loop_, &check_);
  check_.data = this;
  uv_check_start(&check_, on_check);
  uv_timer_init(loop_, &cron_);
  cron_.data = this;
  uv_timer_start(&cron_, on_cron, static_cast<uint64_t>(config_.bus_heartbeat_ms),
                 static_cast<uint64_t>(config_.bus_heartbeat_ms));
  spdlog::info("tiercache-sidecar ready: socket '{}', L2 {}, L1 {} bytes in /dev/shm/tiercache-{}",
               config_.socket, config_.l2, config_.l1_memory, config_.shm_name);
  if (!net::run_until_closed(loop_)) {
    spdlog::error("event loop closed with handles still open");
    return 1;
  }
  spdlog::info("tiercache-sidecar stopped");
  return 0;
}

void Sidecar::on_stop_signal(void* ctx, int signum) {
  spdlog::info("received signal {}, shutting down", signum);
  static_cast<Sidecar*>(ctx)->shutdown();
}

void Sidecar::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  flush_batch();
  std::vector<net::Connection*> all;
  for (auto& [id, c] : conns_) all.push_back(c);
  for (net::Connection* c : all) {
    c->flush();
    c->close();
  }
  listener_.close();
  if (metrics_) metrics_->close();
  bus_->stop();
  l2_->stop();
  l1_->close_clean();
  signals_.close();
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&cron_), nullptr);
}

void Sidecar::on_check(uv_check_t* h) {
  auto* self = static_cast<Sidecar*>(h->data);
  self->flush_batch();
  if (!self->close_later_.empty()) {
    std::vector<uint64_t> ids;
    ids.swap(self->close_later_);
    for (uint64_t id : ids)
      if (net::Connection* c = self->connection(id)) c->close();
  }
}

void Sidecar::on_cron(uv_timer_t* t) {
  auto* self = static_cast<Sidecar*>(t->data);
  self->publish_heartbeat();
  self->l1_->heartbeat();
  self->l1_->reclaim_expired(256);
}

void Sidecar::on_l2_state(void* ctx, bool connected) {
  auto* self = static_cast<Sidecar*>(ctx);
  if (connected) self->upstream_db_ = 0;
}

void Sidecar::on_accept(void* ctx, uv_stream_t* listener, bool is_tcp) {
  auto* self = static_cast<Sidecar*>(ctx);
  auto* c = new net::Connection(
      self->loop_, self, &self->parser_limits_, &self->conn_limits_, self->next_conn_id_++,
      is_tcp ? net::Connection::Kind::kTcp : net::Connection::Kind::kUnix);
  if (uv_accept(listener, c->stream()) != 0) {
    c->close();
    return;
  }
  auto* st = new ClientState();
  st->authenticated = self->config_.requirepass.empty();
  c->parser().set_authenticated(st->authenticated);
  st->created_ms = static_cast<int64_t>(wall_us() / 1000);
  st->last_ms = st->created_ms;
  c->user = st;
  self->conns_.emplace(c->id(), c);
  self->stats_.connections_received++;
  if (is_tcp) uv_tcp_nodelay(c->tcp(), 1);
  if (self->conns_.size() > static_cast<size_t>(self->config_.maxclients)) {
    self->stats_.rejected_connections++;
    resp::write_error(c->reply(), "ERR max number of clients reached");
    c->close_after_reply();
    c->flush();
    return;
  }
  c->start();
}

net::Connection* Sidecar::open_internal() {
  auto* c = new net::Connection(loop_, this, &parser_limits_, &conn_limits_, next_conn_id_++,
                                net::Connection::Kind::kInternal);
  auto* st = new ClientState();
  st->authenticated = config_.requirepass.empty();
  c->user = st;
  conns_.emplace(c->id(), c);
  return c;
}

void Sidecar::on_closed(net::Connection& c) {
  auto* st = static_cast<ClientState*>(c.user);
  if (st != nullptr) {
    if (st->pubsub) st->pubsub->stop();
    delete st;
    c.user = nullptr;
  }
  conns_.erase(c.id());
}

void Sidecar::on_protocol_error(net::Connection&) { stats_.protocol_errors++; }

void Sidecar::on_query_buffer_limit(net::Connection&) {
  stats_.query_buffer_limit_disconnections++;
}

void Sidecar::on_request(net::Connection& c, std::span<const std::string_view> args) {
  auto& st = *static_cast<ClientState*>(c.user);
  stats_.commands++;
  const CommandSpec* spec = table_.find(args[0]);
  if (spec == nullptr) {
    if (util::iequals(args[0], "post") || util::iequals(args[0], "host:")) {
      stats_.security_closes++;
      spdlog::warn("possible cross-protocol attack on the sidecar: closing the connection");
      c.close();
      return;
    }
    if (st.in_multi) st.multi_dirty = true;
    resp::write_error(c.reply(),
                      resp::unknown_command_error(args[0], args.data() + 1, args.size() - 1));
    return;
  }
  if (!CommandTable::arity_ok(*spec, args.size())) {
    if (st.in_multi) st.multi_dirty = true;
    resp::write_error(c.reply(), resp::wrong_arity_error(spec->name));
    return;
  }
  if (!st.authenticated && !(spec->flags & command::kNoAuth)) {
    if (st.in_multi) st.multi_dirty = true;
    resp::write_error(c.reply(), "NOAUTH Authentication required.");
    return;
  }
  dispatch(c, st, *spec, args);
  if (config_.client_output_buffer_limit &&
      c.committed_output_bytes() > config_.client_output_buffer_limit) {
    stats_.output_buffer_limit_disconnections++;
    spdlog::warn("client {} closed: output buffer over the limit", c.id());
    c.close();
  }
}

void Sidecar::dispatch(net::Connection& c, ClientState& st, const CommandSpec& spec,
                       std::span<const std::string_view> args) {
  std::string_view name = spec.name;
  if (st.pubsub || st.subscriptions > 0) {
    if (!(spec.flags & command::kSubscribed)) {
      resp::write_error(c.reply(), "ERR Can't execute '" + std::string(name) +
                                       "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT "
                                       "/ RESET are allowed in this context");
      return;
    }
  }
  if (st.in_multi && name != "exec" && name != "discard" && name != "multi" && name != "watch" &&
      name != "quit" && name != "reset") {
    if (name == "select" || (spec.flags & command::kPubSub && name != "publish")) {
      st.multi_dirty = true;
      resp::write_error(c.reply(), "ERR '" + std::string(name) +
                                       "' inside MULTI is not supported by tiercache-sidecar");
      return;
    }
    st.queue.emplace_back(args.begin(), args.end());
    resp::write_simple(c.reply(), "QUEUED");
    return;
  }
  if (local_command(c, st, spec, args)) return;
  if (name == "get") return cmd_get(c, st, args[1]);
  if (name == "mget") return cmd_mget(c, st, args);
  if (name == "exists") return cmd_exists(c, st, args);
  if (name == "exec") return cmd_exec(c, st);
  if (spec.flags & command::kWrite) return cmd_write(c, st, spec, args);
  if ((spec.flags & command::kScripting) && !(spec.flags & command::kRead))
    return cmd_write(c, st, spec, args);  // EVAL/EVALSHA: declared keys are written keys
  if (name == "subscribe" || name == "psubscribe" || name == "unsubscribe" ||
      name == "punsubscribe")
    return pubsub_command(c, st, args);
  passthrough(c, st, args);
}

}  // namespace tiercache::sidecar
