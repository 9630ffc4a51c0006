// tiercache-sidecar lifecycle (see sidecar.h): start-up, accept, the per-tick write flush,
// heartbeats, delayed closes, shutdown. Requests go on in dispatch.cc.
#include "sidecar/sidecar.h"

#include <unistd.h>

#include <cstdio>
#include <random>

#include "shared/log/log.h"
#include "shared/resp/reply_writer.h"
#include "shared/util/numbers.h"
#include "sidecar/clock.h"
#include "sidecar/cluster/node_locator.h"
#include "sidecar/invalidation/cluster_source.h"
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
                                               "l1_negative_hits",
                                               "l1_direct_negative_hits",
                                               "negative_fills",
                                               "fail_safe_entered",
                                               "stale_answers",
                                               "l1_direct_stale_hits",
                                               "l1_evictions",
                                               "l1_expirations",
                                               "l1_flushes",
                                               "l1_slots_flushed",
                                               "fills",
                                               "fills_discarded",
                                               "fills_untracked",
                                               "coalesced_misses",
                                               "l2_fetches",
                                               "writes",
                                               "write_batches",
                                               "invalidations_sent",
                                               "invalidation_messages_sent",
                                               "invalidations_received",
                                               "invalidation_messages_received",
                                               "invalidation_bytes_received",
                                               "bus_heartbeats_back",
                                               "bus_refused",
                                               "bus_resets",
                                               "bus_gaps",
                                               "bus_bad_messages",
                                               "passthrough",
                                               "l2_errors",
                                               "l2_reconnects",
                                               "l2_master_switches"};
constexpr std::string_view kLabelFields[] = {"tiercache_version", "tiercache_role", "l2",
                                             "invalidation_source", "l2_mode"};
// (Millisecond settings and ages stay INFO-only: Prometheus names carry no abbreviated units.)
constexpr std::string_view kSkipFields[] = {"process_id", "l1_segment",
                                            "l1_direct_max_staleness_ms", "stale_if_error_ms",
                                            "l1_verified_age_ms"};

// The metrics endpoint's page: INFO, every section, converted (so it cannot drift from INFO).
std::string render_metrics(void* ctx) {
  net::PrometheusSchema schema{"tiercache_sidecar", kCounterFields, kLabelFields, kSkipFields};
  return net::info_to_prometheus(static_cast<Sidecar*>(ctx)->info("all"), schema);
}

}  // namespace

LinkOptions link_options(const Config& config, std::shared_ptr<const L2Locator> locator,
                         bool subscriber, std::shared_ptr<const net::TlsContext> tls) {
  LinkOptions o;
  o.locator = std::move(locator);
  o.user = config.l2_user;
  o.password = config.l2_password;
  o.tls = std::move(tls);
  o.connect_timeout_ms = config.l2_connect_timeout_ms;
  // A subscribed connection's health is judged elsewhere (the bus: heartbeats).
  o.request_timeout_ms = subscriber ? kNoRequestTimeout : config.l2_timeout_ms;
  o.reconnect_max_ms = config.l2_reconnect_max_ms;
  o.max_reply_bytes = config.proto_max_bulk_len + (1 << 20);
  return o;
}

Sidecar::Sidecar(Config config)
    : config_(std::move(config)),
      handlers_(table_),
      loop_(uv_default_loop()),
      writes_(*this),
      listener_(loop_, on_accept, this),
      tls_listener_(loop_, on_accept_tls, this) {
  parser_limits_.max_bulk_len = config_.proto_max_bulk_len;
  conn_limits_.query_buffer_limit = config_.client_query_buffer_limit;
  std::random_device rd;
  origin_ = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(getpid());
}

Sidecar::~Sidecar() = default;

ClientState* Sidecar::new_client(uint64_t conn_id) {
  auto st = std::make_unique<ClientState>(conn_id);
  ClientState* raw = st.get();
  clients_[conn_id] = std::move(st);
  return raw;
}

net::Connection* Sidecar::connection(uint64_t id) {
  auto it = conns_.find(id);
  return it == conns_.end() || it->second->closing() ? nullptr : it->second;
}

bool Sidecar::open_l1(std::string* error) {
  l1::Options o;
  o.name = config_.shm_name;
  o.memory_bytes = config_.l1_memory;
  o.max_item_size = config_.l1_max_item_size;
  o.max_ttl_ms = static_cast<uint64_t>(config_.l1_max_ttl_ms);
  o.file_mode = static_cast<uint32_t>(config_.shm_mode);
  o.exclusive = true;  // two sidecars with one --shm-name would share entries: refuse
  // In front of a cluster, a master lost or a slot moved drops only those slots (O(1) each).
  o.hash_slot_generations = config_.l2_mode == "cluster";
  l1_ = l1::Store::open(o, error);
  if (!l1_) return false;
  // Whatever the segment held, writes made elsewhere while no sidecar was listening are
  // unknown to us: start empty (an O(1) generation bump).
  l1_->flush_all();
  return true;
}

bool Sidecar::start_with(std::unique_ptr<L2Link> l2, std::unique_ptr<InvalidationSource> bus,
                         std::string* error, std::shared_ptr<L2Locator> locator) {
  if (!open_l1(error)) return false;
  locator_ = std::move(locator);
  if (!locator_ && !make_locator(error)) return false;
  l2_ = std::move(l2);
  bus_ = std::move(bus);
  per_slot_ = bus_->per_slot();
  l2_->start();
  bus_->start();
  locator_->start(this);
  return true;
}

bool Sidecar::start(std::string* error) {
  if (config_.l2_tls) {
    l2_tls_ = net::TlsContext::client(config_.l2_tls_options, error);
    if (!l2_tls_) {
      *error = "--l2-tls: " + *error;
      return false;
    }
  }
  if (!make_locator(error)) return false;  // (before the segment: a bad l2 leaves none)
  if (!open_l1(error)) return false;
  LinkOptions data_options = link_options(config_, locator_, false, l2_tls_);
  data_options.on_auth_refused = on_auth_refused;
  data_options.auth_ctx = this;
  if (config_.l2_mode == "cluster")
    l2_ = make_cluster_link();
  else
    l2_ = std::make_unique<HiredisLink>(loop_, std::move(data_options), "l2", on_l2_state, this);
  if (!make_invalidation_source(error)) return false;

  if (!config_.socket.empty() &&
      !listener_.listen_unix(config_.socket, config_.socket_mode, 511, error))
    return false;
  if (config_.port != 0 && !listener_.listen_tcp(config_.bind, config_.port, 511, error))
    return false;
  if (config_.tls_port != 0) {
    tls_ = net::TlsContext::server(config_.tls, error);
    if (!tls_) {
      *error = "Failed to configure TLS: " + *error;
      return false;
    }
    if (!tls_listener_.listen_tcp(config_.bind, config_.tls_port, 511, error)) return false;
  }
  if (config_.socket.empty() && config_.port == 0 && config_.tls_port == 0) {
    *error = "nothing to listen on: give --socket, --port or --tls-port";
    return false;
  }
  if (config_.metrics_port != 0) {
    metrics_ = std::make_unique<net::MetricsHttp>(loop_, render_metrics, this);
    if (!metrics_->listen(config_.metrics_bind, config_.metrics_port, error)) return false;
    log::info("metrics on http://{}:{}/metrics", config_.metrics_bind, metrics_->port());
  }
  l2_->start();
  bus_->start();
  locator_->start(this);
  return true;
}

// The invalidation source: the publish bus, or CLIENT TRACKING of the L2.
bool Sidecar::make_invalidation_source(std::string* error) {
  if (config_.invalidation_source == "publish") {
    if (!config_.track_prefixes.empty()) {
      *error = "track-prefix needs invalidation-source = tracking";
      return false;
    }
    bus_ = std::make_unique<Bus>(loop_, link_options(config_, locator_, true, l2_tls_),
                                 config_.channel, origin_, config_.bus_timeout_ms, this);
    return true;
  }
  TrackingOptions t;
  if (!normalize_prefixes(config_.track_prefixes, &t.prefixes, error)) return false;
  t.heartbeat_key = fmt::format("{}hb:{:016x}", kReservedPrefix, origin_);
  t.timeout_ms = config_.bus_timeout_ms;
  if (cluster_ != nullptr) {
    // l2-mode cluster: one tracking connection per master, following the cluster link's
    // topology; each master's heartbeat key hashes to a slot that master serves. Health per
    // slot: a master's loss drops its slots only, or (fail-safe) answers them stale only.
    const bool per_slot = l1_->hash_slot_generations();
    bus_ = make_cluster_source(loop_, *cluster_, link_options(config_, nullptr, true, l2_tls_),
                               std::move(t), origin_, this, per_slot);
    per_slot_ = bus_->per_slot();
    return true;
  }
  bus_ = std::make_unique<TrackingSource>(loop_, link_options(config_, locator_, true, l2_tls_),
                                          std::move(t), this);
  return true;
}

// l2-mode cluster: one HiredisLink per node, each with the sidecar's link options (password,
// user, TLS, timeouts) and a FixedLocator of its own address.
std::unique_ptr<L2Link> Sidecar::make_cluster_link() {
  cluster::ClusterLinkOptions o;
  std::string error;
  parse_endpoint_list(config_.l2, &o.seeds, &error);  // checked by make_locator
  o.make_link = [this](const Endpoint& e) -> std::unique_ptr<L2Link> {
    LinkOptions lo = link_options(config_, std::make_shared<FixedLocator>(e), false, l2_tls_);
    lo.on_auth_refused = on_auth_refused;
    lo.auth_ctx = this;
    return std::make_unique<HiredisLink>(loop_, std::move(lo), "l2 " + endpoint_text(e),
                                         on_cluster_node_state, this);
  };
  o.on_refused = [this](const std::string& why) {
    fprintf(stderr, "tiercache-sidecar: %s\n", why.c_str());
    exit_code_ = 1;
    stop_requested_ = true;  // shut down at the end of this tick, outside hiredis's callback
  };
  auto link = std::make_unique<cluster::ClusterLink>(table_, std::move(o));
  cluster_ = link.get();
  if (auto nodes = std::dynamic_pointer_cast<cluster::NodeLocator>(locator_))
    nodes->follow(cluster_);  // pub/sub relays: to a master it reaches
  return link;
}

void Sidecar::on_cluster_node_state(void* ctx, bool connected) {
  auto* self = static_cast<Sidecar*>(ctx);
  if (self->cluster_ != nullptr) self->cluster_->node_state(connected);
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
  log::info("tiercache-sidecar ready: socket '{}', L2 {}, L1 {} bytes in /dev/shm/tiercache-{}",
            config_.socket, config_.l2, config_.l1_memory, config_.shm_name);
  if (!net::run_until_closed(loop_)) {
    log::error("event loop closed with handles still open");
    return 1;
  }
  log::info("tiercache-sidecar stopped");
  return exit_code_;
}

void Sidecar::on_auth_refused(void* ctx, const std::string& error) {
  auto* self = static_cast<Sidecar*>(ctx);
  fprintf(stderr, "tiercache-sidecar: %s (check --l2-user and --l2-password)\n", error.c_str());
  self->exit_code_ = 1;
  self->stop_requested_ = true;  // shut down at the end of this tick, outside hiredis's callback
}

void Sidecar::on_stop_signal(void* ctx, int signum) {
  log::info("received signal {}, shutting down", signum);
  static_cast<Sidecar*>(ctx)->shutdown();
}

void Sidecar::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  writes_.flush();
  std::vector<net::Connection*> all;
  for (auto& [id, c] : conns_) all.push_back(c);
  for (net::Connection* c : all) {
    c->flush();
    c->close();
  }
  listener_.close();
  tls_listener_.close();
  if (metrics_) metrics_->close();
  bus_->stop();
  l2_->stop();
  locator_->stop();
  l1_->close_clean();
  signals_.close();
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&cron_), nullptr);
}

void Sidecar::on_check(uv_check_t* h) { static_cast<Sidecar*>(h->data)->end_of_tick(); }

void Sidecar::end_of_tick() {
  if (stop_requested_ && !shutting_down_) return shutdown();
  if (!held_.empty()) run_held();
  writes_.flush();
  retired_links_.clear();
  if (!close_later_.empty()) {
    std::vector<uint64_t> ids;
    ids.swap(close_later_);
    for (uint64_t id : ids)
      if (net::Connection* c = connection(id)) c->close();
  }
}

void Sidecar::on_cron(uv_timer_t* t) {
  auto* self = static_cast<Sidecar*>(t->data);
  self->writes_.heartbeat();
  self->l1_->heartbeat();
  self->l1_->reclaim_expired(256);
  self->fail_safe_cron();
  self->slot_fail_safe_cron();
  if (self->cluster_ != nullptr) self->cluster_->tick(wall_us() / 1000);
}

void Sidecar::on_l2_state(void* ctx, bool connected) {
  auto* self = static_cast<Sidecar*>(ctx);
  if (connected)
    self->upstream_db_ = 0;
  else
    self->locator_->link_lost();  // the L2 may have moved while the link was away
}

void Sidecar::on_accept(void* ctx, uv_stream_t* listener, bool is_tcp) {
  static_cast<Sidecar*>(ctx)->accept(listener, is_tcp, false);
}

void Sidecar::on_accept_tls(void* ctx, uv_stream_t* listener, bool) {
  static_cast<Sidecar*>(ctx)->accept(listener, true, true);
}

void Sidecar::accept(uv_stream_t* listener, bool is_tcp, bool tls) {
  Sidecar* self = this;
  auto* c = new net::Connection(
      self->loop_, self, &self->parser_limits_, &self->conn_limits_, self->next_conn_id_++,
      is_tcp ? net::Connection::Kind::kTcp : net::Connection::Kind::kUnix);
  if (uv_accept(listener, c->stream()) != 0) {
    c->close();
    return;
  }
  if (tls) c->use_tls(*tls_);
  ClientState* st = self->new_client(c->id());
  st->authenticated = self->config_.requirepass.empty();
  c->parser().set_authenticated(st->authenticated);
  st->created_ms = static_cast<int64_t>(wall_us() / 1000);
  st->last_interaction_ms = st->created_ms;
  if (is_tcp) {
    st->addr = net::peer_name(c->tcp(), false);
    st->laddr = net::peer_name(c->tcp(), true);
  } else {
    st->addr = "/unixsocket:0";
    st->laddr = self->config_.socket + ":0";
  }
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
  ClientState* st = new_client(c->id());
  st->authenticated = config_.requirepass.empty();
  c->user = st;
  conns_.emplace(c->id(), c);
  return c;
}

void Sidecar::on_closed(net::Connection& c) {
  auto* st = static_cast<ClientState*>(c.user);
  if (st != nullptr) {
    if (st->pubsub) st->pubsub->stop();
    drop_dedicated(*st);  // the L2 unblocks the client, forgets its WATCH
    c.user = nullptr;
    clients_.erase(c.id());
  }
  conns_.erase(c.id());
}

void Sidecar::on_protocol_error(net::Connection&) { stats_.protocol_errors++; }

void Sidecar::on_query_buffer_limit(net::Connection&) {
  stats_.query_buffer_limit_disconnections++;
}

}  // namespace tiercache::sidecar
