// tiercache-sidecar: the per-host front end, and the owner of its parts. A request flows
//   dispatch.cc (command table -> handler id)
//     -> shared/session via session_host.cc (AUTH, HELLO, SELECT, PING, CLIENT, COMMAND, MULTI)
//     -> read_path.h, class ReadPath (reads_): a GET hit is ReadPath::get -> its L1 lookup into
//        a reused buffer -> the reply; a GET miss is a flight (GET + PTTL) on the L2 link that
//        other readers join, filled into L1 through the fill guard (fill_guard.h); also MGET
//        and EXISTS split over hits and misses, and where invalidations drop keys and dbs
//     -> write_path.h (batching, commit with invalidation; also EXEC)
//     -> link/ (the L2 link)          invalidation/bus.h (other hosts' invalidations)
// plus info.cc (INFO), pubsub_relay.cc (client SUBSCRIBE) and l2_follow.cc (where the L2 is:
// link/l2_locator.h; a move flushes L1 and moves every connection). This file: lifecycle (start,
// accept, per-tick flush, heartbeat cron, shutdown) in sidecar.cc.
#pragma once

#include <uv.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "l1/store.h"
#include "shared/command/command_table.h"
#include "shared/net/lifecycle.h"
#include "shared/net/listener.h"
#include "shared/net/metrics_http.h"
#include "shared/resp/request_parser.h"
#include "shared/session/session.h"
#include "sidecar/cluster/cluster_link.h"
#include "sidecar/cluster/slot.h"
#include "sidecar/config.h"
#include "sidecar/handlers.h"
#include "sidecar/invalidation/bus.h"
#include "sidecar/invalidation/message.h"
#include "sidecar/invalidation/tracking.h"
#include "sidecar/link/dedicated_link.h"
#include "sidecar/link/hiredis_link.h"
#include "sidecar/read_path.h"
#include "sidecar/session_host.h"
#include "sidecar/slot_stale.h"
#include "sidecar/stats.h"
#include "sidecar/write_path.h"

namespace tiercache::sidecar {

struct ClientState;

class Sidecar : public net::ConnectionOwner,
                public BusListener,
                public ReadHost,
                public L2Locator::Listener {
 public:
  explicit Sidecar(Config config);
  ~Sidecar() override;

  // Opens L1, binds the socket(s), starts connecting to L2. False with *error.
  bool start(std::string* error);
  // Unit tests: opens L1 and uses these links (e.g. fakes); listens on nothing (clients come
  // from open_internal()), and the loop need not run: end_of_tick() does the per-tick work.
  // locator: where the links are (a fake moves them); null: the `l2` option's address.
  bool start_with(std::unique_ptr<L2Link> l2, std::unique_ptr<InvalidationSource> bus,
                  std::string* error, std::shared_ptr<L2Locator> locator = nullptr);
  // Unit tests: where clients' own links come from (pinned.cc); by default a
  // HiredisDedicatedLink with the shared link's options, to `at`.
  void set_dedicated_links(DedicatedLinkFactory make) { make_dedicated_ = std::move(make); }
  // The work at the end of every loop tick: sends the write batch, closes what close_later
  // asked for.
  void end_of_tick();
  // Runs until SIGTERM/SIGINT; returns the exit code.
  int run();
  void shutdown();

  // net::ConnectionOwner (dispatch.cc)
  void on_request(net::Connection& c, std::span<const std::string_view> args) override;
  void on_closed(net::Connection& c) override;
  void on_protocol_error(net::Connection& c) override;
  void on_query_buffer_limit(net::Connection& c) override;

  // BusListener (fail_safe.cc): invalidations and health go to the read path.
  void on_invalidation(const invalidation::Message& m) override;
  void on_keys_invalidated(std::span<const std::string_view> keys) override;
  void on_bus_unhealthy(const std::string& why) override;
  void on_bus_healthy() override;
  void on_bus_current(uint64_t sent_ms) override;
  // l2-mode cluster: a master lost or slots moved: those slots leave L1 (O(1) each).
  void on_slots_dropped(std::span<const uint16_t> slots, const std::string& why) override;
  // A master's tracking lost: its slots dropped, or answered stale (fail-safe, slot_stale.h).
  void on_slots_unhealthy(std::span<const uint16_t> slots, uint64_t vouched_ms,
                          const std::string& why) override;

  // ReadHost: what the read path needs of the sidecar (l1_use: fail_safe.cc).
  l1::Store& l1() override { return *l1_; }
  L1Use l1_use() const override;
  bool l1_serving() const override { return bus_ && bus_->healthy(); }
  bool tracks(std::string_view key) const override { return bus_->tracks(key); }
  bool key_followed(std::string_view key) const override {
    return !per_slot_ || bus_->slot_healthy(cluster::key_slot(key));
  }
  bool key_stale_ok(std::string_view key) const override;  // fail_safe.cc
  bool send(int db, std::span<const std::string_view> args,
            std::unique_ptr<Completion> done) override;
  net::Connection* connection(uint64_t id) override;
  void write_l2_error(std::string& out) override;

  // L2Locator::Listener (l2_follow.cc): a move flushes L1 through invalidate_db (in-flight
  // fills refused), fails what is in flight, and moves every L2 connection.
  void on_l2_located(const Endpoint& now, bool moved) override;

  // Services for the paths and their operations in flight.
  const Config& config() const { return config_; }
  SidecarStats& stats() { return stats_; }
  L2Link& link() { return *l2_; }
  InvalidationSource& bus() { return *bus_; }
  ReadPath& reads() { return reads_; }
  WritePath& writes() { return writes_; }
  const command::CommandTable& commands() const { return table_; }
  uint64_t origin() const { return origin_; }
  bool in_fail_safe() const { return fail_safe_; }
  // How long a process reading L1 directly (l1::OpenMode::kReader) may trust it after the last
  // own bus message came back (l1::Store::mark_current; one every bus-heartbeat-ms at least):
  // the same bound as for losing the bus, and never below three heartbeats. In INFO.
  int64_t direct_max_staleness_ms() const {
    return std::max(config_.bus_timeout_ms, 3 * config_.bus_heartbeat_ms);
  }
  // Every connection, by id (some may be closing).
  const std::unordered_map<uint64_t, net::Connection*>& connections() const { return conns_; }
  // Makes the L2 connection's selected db `db` (SELECT if needed; nothing when down).
  void select_db(int db);
  // fail_safe.cc: the reply (or not) to a proof-of-life PING sent in fail-safe.
  void l2_probed(uint64_t entry, bool answered);
  // fail_safe.cc, from the heartbeat cron: closes an expired stale window; probes the L2 when
  // the data link is up again while the bus is not.
  void fail_safe_cron();
  // fail_safe.cc, per hash slot (slot_stale.h): expired windows closed; a probe of an open
  // slot's master (a key read in that slot), and its answer.
  void slot_fail_safe_cron();
  void slot_probed(uint16_t slot, const redisReply* r);

  std::string info(std::string_view section);

  // pinned.cc, for the session host. WATCH: sent over the client's dedicated link (opened if
  // needed), answered in order; false with an error replied. unwatch: UNWATCH, DISCARD, RESET
  // and an aborted EXEC: the L2 forgets the client's watched keys.
  bool watch(net::Connection& c, ClientState& st, std::span<const std::string_view> args,
             std::string& out);
  void unwatch(ClientState& st);

  // Tests and fuzzing: a connection without a socket, answered like any client (its replies
  // accumulate in output()); close() frees it.
  net::Connection* open_internal();

  // Closes a connection at the next loop tick: for callers inside an L2 (hiredis) callback,
  // where freeing the client's own upstream connection at once is not allowed.
  void close_later(uint64_t conn_id) { close_later_.push_back(conn_id); }

 private:
  static void on_accept(void* ctx, uv_stream_t* listener, bool is_tcp);
  static void on_accept_tls(void* ctx, uv_stream_t* listener, bool is_tcp);
  void accept(uv_stream_t* listener, bool is_tcp, bool tls);
  // The L2 refused the data link's first AUTH: a configuration error, so stop (exit 1).
  static void on_auth_refused(void* ctx, const std::string& error);
  static void on_stop_signal(void* ctx, int signum);
  static void on_check(uv_check_t* h);
  static void on_cron(uv_timer_t* t);
  static void on_l2_state(void* ctx, bool connected);
  static void on_cluster_node_state(void* ctx, bool connected);
  // l2-mode cluster: the data link over every master (cluster/cluster_link.h).
  std::unique_ptr<L2Link> make_cluster_link();
  // The invalidation source (publish bus or tracking), built in one place.
  bool make_invalidation_source(std::string* error);
  bool open_l1(std::string* error);
  bool make_locator(std::string* error);  // l2_follow.cc: from l2-mode and l2
  // fail_safe.cc
  void enter_fail_safe(const std::string& why);
  void close_stale_window(const char* why);  // flushes L1: no stale copy is answered again
  ClientState* new_client(uint64_t conn_id);  // owned by clients_ until on_closed

  // dispatch.cc
  void dispatch(net::Connection& c, ClientState& st, const command::CommandSpec& spec,
                std::span<const std::string_view> args);
  void passthrough(net::Connection& c, ClientState& st, std::span<const std::string_view> args);
  void exec(net::Connection& c, ClientState& st);
  // info.cc
  void cmd_info(net::Connection& c, ClientState& st, std::span<const std::string_view> args);
  // pubsub_relay.cc
  void pubsub_command(net::Connection& c, ClientState& st, std::span<const std::string_view> args,
                      bool unsubscribe);
  // pinned.cc: clients with an L2 connection of their own.
  void blocking(net::Connection& c, ClientState& st, const command::CommandSpec& spec,
                std::span<const std::string_view> args);
  // The client's dedicated link for a command with these args (WATCH's or a blocking
  // command's), opened if needed; nullptr with the error replied (L2 down, max-dedicated-links
  // reached, the link holding its WATCH lost). In l2-mode cluster it goes to the master serving
  // the first key, and a link open to another master is replaced while nothing pins it.
  DedicatedLink* dedicated_link(net::Connection& c, ClientState& st, const command::CommandSpec& spec,
                                std::span<const std::string_view> args, std::string& out);
  // A command that pins the client waits while the client has replies pending from the shared
  // link (it must not overtake them): true when it was held (reading suspended).
  bool hold(net::Connection& c, ClientState& st, std::span<const std::string_view> args);
  void run_held();  // end of tick: runs the held commands whose turn has come
  // Stops the client's dedicated link (the L2 unblocks it, forgets its WATCH).
  void drop_dedicated(ClientState& st);

  Config config_;
  resp::ParserLimits parser_limits_;
  net::ConnectionLimits conn_limits_;
  command::CommandTable table_;
  HandlerTable handlers_;
  session::Commands session_commands_{table_};  // the connection commands, run by session_
  const command::CommandSpec* watch_spec_ = table_.find("watch");  // its key spec (pinned.cc)
  std::unique_ptr<session::Host> session_ = make_session_host(*this);
  uv_loop_t* loop_;
  std::unique_ptr<l1::Store> l1_;
  std::shared_ptr<L2Locator> locator_;  // shared with every link's options
  std::unique_ptr<L2Link> l2_;
  cluster::ClusterLink* cluster_ = nullptr;  // l2_ itself in l2-mode cluster, else null
  std::unique_ptr<InvalidationSource> bus_;
  bool per_slot_ = false;  // bus_->per_slot(), cached for the read path
  WritePath writes_;
  net::Listener listener_;
  net::Listener tls_listener_;                       // tls-port
  std::unique_ptr<net::TlsContext> tls_;             // clients' TLS, when tls-port is set
  std::shared_ptr<const net::TlsContext> l2_tls_;    // the L2 link's, when l2-tls is on
  int exit_code_ = 0;
  bool stop_requested_ = false;
  std::unique_ptr<net::MetricsHttp> metrics_;  // Prometheus endpoint, if metrics-port
  net::StopSignals signals_;
  uv_check_t check_;
  uv_timer_t cron_;
  uint64_t origin_;
  uint64_t next_conn_id_ = 1;
  std::unordered_map<uint64_t, net::Connection*> conns_;  // freed by their libuv close callbacks
  std::unordered_map<uint64_t, std::unique_ptr<ClientState>> clients_;  // Connection::user
  int upstream_db_ = 0;
  bool shutting_down_ = false;
  SidecarStats stats_;
  std::vector<uint64_t> close_later_;
  size_t dedicated_links_ = 0;     // clients' dedicated links open (max-dedicated-links)
  DedicatedLinkFactory make_dedicated_;  // null: HiredisDedicatedLink (set_dedicated_links)
  std::vector<uint64_t> held_;    // connections with a held command (pinned.cc)
  std::vector<std::unique_ptr<DedicatedLink>> retired_links_;  // stopped, freed at end of tick

  // L1 lookups, single flight, the fill guard, MGET/EXISTS splits, invalidations applied.
  ReadPath reads_{*this, config_, stats_};

  // Fail-safe (--stale-if-error-ms): entered when the bus goes down; the stale window is open
  // until it expires, the L2 answers again, or the bus is back (each flushes L1 first).
  bool fail_safe_ = false;
  bool stale_open_ = false;
  bool probe_sent_ = false;
  uint64_t fail_safe_epoch_ = 0;    // entries so far: which one a probe was sent for
  uint64_t probe_from_losses_ = 0;  // l2_->reconnects() a probe's connection is made after
  // The same per hash slot (l2-mode cluster): one master's slots while its tracking is down.
  SlotStaleWindows slot_stale_{static_cast<uint64_t>(config_.stale_if_error_ms)};
  bool slot_probe_sent_ = false;
  int slot_probe_next_ = 0;
};

// Options of an L2 connection: the request link, or a subscribed one (bus, client pub/sub).
// tls: the L2 link's TLS context (made once at start from the l2-tls-* options), or null.
LinkOptions link_options(const Config& config, std::shared_ptr<const L2Locator> locator,
                         bool subscriber, std::shared_ptr<const net::TlsContext> tls);

}  // namespace tiercache::sidecar
