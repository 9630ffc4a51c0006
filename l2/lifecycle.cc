// tiercache-l2's lifecycle: opening the listeners and the metrics endpoint, the run (load the
// data, then serve until stopped), a stop signal, shutdown, and accepting a connection. The
// request path and cron are in server.cc.
#include <malloc.h>

#include <cstdio>

#include "l2/client.h"
#include "l2/server.h"
#include "shared/log/log.h"
#include "shared/resp/reply_writer.h"

namespace tiercache::l2 {
namespace {

// INFO fields that only grow (exported as Prometheus counters; every other number is a gauge).
constexpr std::string_view kCounterFields[] = {"total_connections_received",
                                               "total_commands_processed",
                                               "total_net_input_bytes",
                                               "total_net_output_bytes",
                                               "rejected_connections",
                                               "expired_keys",
                                               "evicted_keys",
                                               "keyspace_hits",
                                               "keyspace_misses",
                                               "total_error_replies",
                                               "protocol_errors",
                                               "security_closes",
                                               "client_query_buffer_limit_disconnections",
                                               "client_output_buffer_limit_disconnections",
                                               "pubsub_messages_delivered",
                                               "used_cpu_sys",
                                               "used_cpu_user"};
constexpr std::string_view kLabelFields[] = {"tiercache_version", "maxmemory_policy"};
constexpr std::string_view kSkipFields[] = {"process_id",  "tcp_port",
                                            "arch_bits",   "uptime_in_days",
                                            "loading",     "rdb_changes_since_last_save",
                                            "aof_enabled", "connected_slaves"};

// The metrics endpoint's page: INFO, every section, converted (so it cannot drift from INFO).
std::string render_metrics(void* ctx) {
  net::PrometheusSchema schema{"tiercache_l2", kCounterFields, kLabelFields, kSkipFields};
  return net::info_to_prometheus(static_cast<Server*>(ctx)->info("all"), schema);
}

}  // namespace

bool Server::listen() {
  std::string error;
  if (config_.port != 0 &&
      !listener_.listen_tcp(config_.bind, config_.port, config_.tcp_backlog, &error)) {
    fprintf(stderr, "tiercache-l2: %s\n", error.c_str());
    return false;
  }
  if (!config_.unixsocket.empty() &&
      !listener_.listen_unix(config_.unixsocket, config_.unixsocketperm, config_.tcp_backlog,
                             &error)) {
    fprintf(stderr, "tiercache-l2: %s\n", error.c_str());
    return false;
  }
  if (config_.tls_port != 0) {
    tls_ = net::TlsContext::server(config_.tls, &error);
    if (tls_ == nullptr) {
      fprintf(stderr, "tiercache-l2: Failed to configure TLS: %s\n", error.c_str());
      return false;
    }
    if (!tls_listener_.listen_tcp(config_.bind, config_.tls_port, config_.tcp_backlog, &error)) {
      fprintf(stderr, "tiercache-l2: %s\n", error.c_str());
      return false;
    }
  }
  if (config_.port == 0 && config_.unixsocket.empty() && config_.tls_port == 0) {
    fprintf(stderr, "tiercache-l2: nothing to listen on (port 0, no tls-port, no unixsocket)\n");
    return false;
  }
  if (config_.metrics_port != 0) {
    metrics_ = std::make_unique<net::MetricsHttp>(loop_, render_metrics, this);
    std::string error;
    if (!metrics_->listen(config_.metrics_bind, config_.metrics_port, &error)) {
      fprintf(stderr, "tiercache-l2: %s\n", error.c_str());
      return false;
    }
    log::info("metrics on http://{}:{}/metrics", config_.metrics_bind, metrics_->port());
  }
  return true;
}

int Server::run() {
  uv_timer_init(loop_, &cron_timer_);
  cron_timer_.data = this;
  uv_timer_start(&cron_timer_, on_cron, 1000 / config_.hz, 1000 / config_.hz);
  uv_prepare_init(loop_, &prepare_);
  prepare_.data = this;
  uv_prepare_start(&prepare_, on_prepare);
  uv_idle_init(loop_, &busy_poll_);
  busy_poll_.data = this;
  signals_.start(loop_, on_stop_signal, this);
  // As Redis: the listeners are open while the file loads, and clients get -LOADING.
  if (!load_data()) {
    shutdown();
    net::run_until_closed(loop_);
    return 1;
  }
  struct mallinfo2 mi = mallinfo2();
  baseline_memory_ = mi.uordblks;
  if (!shutting_down_)  // a SHUTDOWN or SIGTERM during loading stopped it
    log::info("tiercache-l2 ready: tcp {}:{}, tls port {}, unix '{}', maxmemory {} ({})",
              config_.bind, config_.port, config_.tls_port, config_.unixsocket, config_.maxmemory,
              eviction_policy_name(config_.maxmemory_policy));
  if (!net::run_until_closed(loop_)) {
    log::error("event loop closed with handles still open");
    return 1;
  }
  log::info("tiercache-l2 stopped");
  return 0;
}

void Server::on_stop_signal(void* ctx, int signum) {
  auto* self = static_cast<Server*>(ctx);
  if (self->snapshots_->loading())  // no final save then: see shutdown_save
    log::info("received signal {} during loading, shutting down", signum);
  else
    log::info("received signal {}, shutting down", signum);
  self->update_clock();
  std::string error;
  // As Redis: with `save` rules, a final snapshot; if it fails the server keeps running.
  if (!self->snapshots_->shutdown_save(self->now_ms_, self->used_memory(), false, false, &error)) {
    log::error("Errors trying to shut down the server: {}", error);
    return;
  }
  self->shutdown();
}

bool Server::load_data() {
  update_clock();
  // Every 2 MB the loop turns: clients are answered (-LOADING but for the table's kLoading
  // commands), a SHUTDOWN or SIGTERM stops the load. Cron does not run meanwhile.
  auto events = [this] {
    uv_run(loop_, UV_RUN_NOWAIT);
    return !shutting_down_;
  };
  // As Redis's rdbLoad: loaded keys are no modifications (no invalidations, no dirty count).
  listen_to_keyspace(false);
  std::string error;
  bool ok = snapshots_->load(now_ms_, events, &error);
  listen_to_keyspace(true);
  if (!ok) {
    fprintf(stderr, "tiercache-l2: Fatal error loading the DB: %s. Exiting.\n", error.c_str());
    return false;
  }
  return true;
}

void Server::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  std::vector<Client*> all;
  for (auto& [id, c] : clients_) all.push_back(c);
  for (Client* c : all) {
    c->flush();
    c->close();
  }
  listener_.close();
  tls_listener_.close();
  if (metrics_) metrics_->close();
  blocking_->close();
  pause_->close();
  uv_close(reinterpret_cast<uv_handle_t*>(&cron_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&busy_poll_), nullptr);
  signals_.close();
}

void Server::on_accept(void* ctx, uv_stream_t* listener, bool tcp) {
  static_cast<Server*>(ctx)->accept(listener, tcp, false);
}

void Server::on_accept_tls(void* ctx, uv_stream_t* listener, bool) {
  static_cast<Server*>(ctx)->accept(listener, true, true);
}

void Server::accept(uv_stream_t* listener, bool tcp, bool tls) {
  Server* self = this;
  auto kind = tcp ? net::Connection::Kind::kTcp : net::Connection::Kind::kUnix;
  auto* conn = new net::Connection(self->loop_, self, &self->parser_limits_, &self->conn_limits_,
                                   self->next_client_id_++, kind);
  if (uv_accept(listener, conn->stream()) != 0) {
    conn->close();
    return;
  }
  if (tls) conn->use_tls(*tls_);
  self->update_clock();
  auto* c = new Client(self, *conn, tcp ? Client::Kind::kTcp : Client::Kind::kUnix);
  conn->user = c;
  self->stats_.total_connections_received++;
  if (tcp) {
    uv_tcp_nodelay(conn->tcp(), 1);
    if (self->config_.tcp_keepalive > 0)
      uv_tcp_keepalive(conn->tcp(), 1, self->config_.tcp_keepalive);
    c->addr = net::peer_name(conn->tcp(), false);
    c->laddr = net::peer_name(conn->tcp(), true);
  } else {
    c->addr = "/unixsocket:0";
    c->laddr = self->config_.unixsocket + ":0";
  }
  self->clients_.emplace(c->id, c);
  if (self->clients_.size() > static_cast<size_t>(self->config_.maxclients)) {
    self->stats_.rejected_connections++;
    resp::write_error(c->out, "ERR max number of clients reached");
    c->close_after_reply();
    c->flush();
    return;
  }
  conn->start();
}

}  // namespace tiercache::l2
