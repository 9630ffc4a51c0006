// tiercache-l2's server: the libuv loop, listeners, the client set, command dispatch, pub/sub,
// WATCH bookkeeping and the periodic jobs (active expiry, rehashing, limits).
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "l2/blocking.h"
#include "l2/pause.h"
#include "l2/config.h"
#include "l2/keyspace/keyspace.h"
#include "l2/persistence/snapshots.h"
#include "l2/session_host.h"
#include "l2/tracking/tracker.h"
#include "shared/command/command_table.h"
#include "shared/net/connection.h"
#include "shared/net/lifecycle.h"
#include "shared/net/listener.h"
#include "shared/net/metrics_http.h"
#include "shared/net/tls.h"
#include "shared/resp/request_parser.h"
#include "shared/session/session.h"

namespace tiercache::l2 {

class Client;
class Server;
namespace scripting {
class LuaEngine;
}

struct CommandContext {
  Server& server;
  Client& client;
  std::span<const std::string_view> args;
  std::string& out;
  int64_t now_ms;
  const command::CommandSpec& spec;
};

using Handler = void (*)(CommandContext&);

// Each commands/*.cc file registers its handlers by name; the server checks at start that
// every command of the shared table has exactly one.
class HandlerRegistry {
 public:
  explicit HandlerRegistry(const command::CommandTable& table);
  void add(std::string_view name, Handler handler);
  std::vector<Handler> take();

 private:
  const command::CommandTable& table_;
  std::vector<Handler> handlers_;
};

void register_server_commands(HandlerRegistry& r);
void register_connection_commands(HandlerRegistry& r);  // session_host.cc
void register_string_commands(HandlerRegistry& r);
void register_key_commands(HandlerRegistry& r);
void register_transaction_commands(HandlerRegistry& r);
void register_pubsub_commands(HandlerRegistry& r);
void register_scripting_commands(HandlerRegistry& r);
void register_hash_commands(HandlerRegistry& r);
void register_list_commands(HandlerRegistry& r);
void register_set_commands(HandlerRegistry& r);
void register_zset_commands(HandlerRegistry& r);
void register_zset_multi_commands(HandlerRegistry& r);
void register_persistence_commands(HandlerRegistry& r);

struct ServerStats {
  uint64_t total_connections_received = 0;
  uint64_t total_commands_processed = 0;
  uint64_t rejected_connections = 0;
  uint64_t total_error_replies = 0;
  uint64_t protocol_errors = 0;
  uint64_t client_query_buffer_limit_disconnections = 0;
  uint64_t client_output_buffer_limit_disconnections = 0;
  uint64_t pubsub_messages_delivered = 0;
  uint64_t security_closes = 0;
};

class Server : public net::ConnectionOwner, private tracking::Peers {
 public:
  explicit Server(Config config);
  ~Server();

  // Binds the listeners. False with a message on stderr when it cannot.
  bool listen();
  // Loads the RDB file (dir/dbfilename) if it exists, answering clients meanwhile, then runs
  // the loop until SIGTERM/SIGINT or SHUTDOWN; returns the process exit code (1 with a message
  // on stderr when the file exists but cannot be loaded).
  int run();
  // Stops accepting, closes every client and lets run() return.
  void shutdown();

  // Runs one request for a client (args[0] is the command name). Replies go to client.out.
  void execute(Client& client, std::span<const std::string_view> args);

  Config& config() { return config_; }
  scripting::LuaEngine& lua() { return *lua_; }
  bool shutting_down() const { return shutting_down_; }
  Keyspace& keyspace() { return keyspace_; }
  tracking::Tracker& tracker() { return *tracker_; }
  Blocking& blocking() { return *blocking_; }
  Pause& pause() { return *pause_; }
  persistence::Snapshots& snapshots() { return *snapshots_; }
  // True while a command runs inside EXEC or a script (blocking commands answer at once).
  bool nested() const { return exec_depth_ > 1; }
  const tracking::Peers& peers() const { return *this; }
  ServerStats& stats() { return stats_; }
  const command::CommandTable& commands() const { return table_; }
  // The connection commands (shared/session) and this server's side of them.
  const session::Commands& session_commands() const { return session_commands_; }
  session::Host& session_host() { return *session_host_; }
  uv_loop_t* loop() { return loop_; }
  const resp::ParserLimits* parser_limits() const { return &parser_limits_; }
  void apply_config();  // after CONFIG SET: refresh derived values

  // Clock: unix ms, cached per event-loop batch.
  int64_t now_ms() const { return now_ms_; }
  void update_clock();
  int64_t uptime_ms() const;

  // Memory as INFO reports it and maxmemory compares it: process baseline + keyspace + clients
  // + the tracking tables.
  size_t used_memory() const;
  // Recomputes the client buffers' share (cron does it every tick; INFO before answering).
  void refresh_client_memory();

  // Clients.
  const std::unordered_map<uint64_t, Client*>& clients() const { return clients_; }
  void on_client_closed(Client* c);
  void queue_write(Client* c);  // flush this client before the loop sleeps
  // Runs the queued requests of the clients in `ids` (unblocked or unpaused), in order, those
  // still connected and not blocked again; takes what is queued meanwhile too. From the loop.
  void resume_clients(std::vector<uint64_t>& ids);
  void check_output_limit(Client* c);

  // WATCH.
  void watch_key(Client* c, int db, std::string_view key);
  void unwatch_all(Client* c);
  void touch_key(int db, std::string_view key);
  void touch_db(int db);  // -1 for all

  // Pub/sub. Returns the number of receivers.
  size_t publish(std::string_view channel, std::string_view message);
  void subscribe(Client* c, std::string_view channel, bool pattern);
  bool unsubscribe(Client* c, std::string_view channel, bool pattern);
  std::vector<std::string> channels(std::string_view pattern) const;
  size_t channel_subscribers(std::string_view channel) const;
  size_t pattern_count() const { return patterns_.size(); }

  std::string info(std::string_view section);

  // net::ConnectionOwner
  void on_request(net::Connection& c, std::span<const std::string_view> args) override;
  void on_closed(net::Connection& c) override;
  void on_protocol_error(net::Connection& c) override;
  void on_query_buffer_limit(net::Connection& c) override;
  void on_batch_done(net::Connection& c) override;

 private:
  static void on_accept(void* ctx, uv_stream_t* listener, bool is_tcp);
  static void on_accept_tls(void* ctx, uv_stream_t* listener, bool is_tcp);
  void accept(uv_stream_t* listener, bool tcp, bool tls);
  static void on_cron(uv_timer_t* t);
  static void on_prepare(uv_prepare_t* p);
  static void on_busy_poll(uv_idle_t* h);
  static void on_stop_signal(void* ctx, int signum);
  void accept_client(uv_stream_t* listener, bool tcp);
  void cron();
  bool load_data();                  // false with a message on stderr
  void listen_to_keyspace(bool on);  // the tracker, blocked clients and snapshots, in order
  bool oom_check(CommandContext& ctx);
  // After a read-only command of c: a default-mode tracking client may now cache its keys (for
  // a script's reads, the keys the script declared, remembered for the script's caller).
  void remember_reads(Client& c, const command::CommandSpec& spec,
                      std::span<const std::string_view> args);
  // Writes clients' pending output, subscribers (invalidations, messages) first.
  void flush_pending_writes();

  // tracking::Peers
  bool exists(uint64_t id) const override;
  bool deliver(uint64_t id, std::string_view payload) override;

  Config config_;
  resp::ParserLimits parser_limits_;
  command::CommandTable table_;
  std::vector<Handler> handlers_;
  session::Commands session_commands_{table_};
  std::unique_ptr<session::Host> session_host_ = make_session_host(*this);
  Keyspace keyspace_;
  ServerStats stats_;
  uv_loop_t* loop_;
  net::ConnectionLimits conn_limits_;
  net::IoCounters io_;
  net::Listener listener_;
  net::Listener tls_listener_;               // tls-port
  std::unique_ptr<net::TlsContext> tls_;     // set when tls-port is
  std::unique_ptr<net::MetricsHttp> metrics_;  // Prometheus endpoint, if metrics-port
  uv_timer_t cron_timer_;
  uv_prepare_t prepare_;
  uv_idle_t busy_poll_;              // active: the loop polls without sleeping (busy-poll-us)
  uint64_t busy_poll_until_ns_ = 0;  // uv_hrtime() at which it may sleep again
  net::StopSignals signals_;
  uint64_t next_client_id_ = 1;
  std::unordered_map<uint64_t, Client*> clients_;
  std::vector<Client*> pending_writes_;
  std::vector<Client*> closed_clients_;  // freed before the loop sleeps (see Client)
  std::map<std::pair<int, std::string>, std::vector<Client*>> watched_keys_;
  std::unordered_map<std::string, std::vector<Client*>> channels_;
  std::unordered_map<std::string, std::vector<Client*>> patterns_;
  int64_t now_ms_ = 0;
  uint64_t start_mono_ms_ = 0;
  size_t baseline_memory_ = 0;
  size_t client_memory_ = 0;  // refreshed by cron
  bool shutting_down_ = false;
  int exec_depth_ = 0;                             // nesting of execute() (EXEC, scripts)
  const command::CommandSpec* request_spec_ = nullptr;  // the running request's command
  std::unique_ptr<tracking::Tracker> tracker_;  // the keyspace's first listener
  std::unique_ptr<Blocking> blocking_;          // blocked clients; the keyspace's second listener
  std::unique_ptr<Pause> pause_;                // CLIENT PAUSE
  bool postponed_ = false;  // the request being handled was postponed (on_request)
  std::unique_ptr<persistence::Snapshots> snapshots_;  // RDB; the keyspace's third listener
  std::unique_ptr<scripting::LuaEngine> lua_;   // last: destroyed first, while clients_ lives
};

}  // namespace tiercache::l2
