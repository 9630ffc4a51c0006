// tiercache-sidecar configuration: defaults, TOML file, flags, all through one option table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/option_table.h"
#include "shared/net/tls.h"

namespace tiercache::sidecar {

struct Config {
  std::string socket = "/run/tiercache/sidecar.sock";
  int socket_mode = 0660;
  int port = 0;  // TCP off unless asked for
  std::string bind = "127.0.0.1";
  std::string l2 = "127.0.0.1:6479";  // HOST:PORT or unix:PATH; sentinel mode: the sentinels
  // Where the L2 address comes from (link/l2_locator.h): "standalone" (the one `l2` address) or
  // "sentinel" (the master Redis Sentinel names l2_sentinel_master, asked of the `l2` list).
  std::string l2_mode = "standalone";
  std::string l2_sentinel_master;
  std::string l2_sentinel_password;  // AUTH to the sentinels; empty: none
  std::string l2_password;
  std::string l2_user;  // ACL user; empty: AUTH <password> (the default user)
  bool l2_tls = false;
  net::TlsClientOptions l2_tls_options;
  int64_t l2_connect_timeout_ms = 250;
  int64_t l2_timeout_ms = 1000;        // a request unanswered this long resets the connection
  int64_t l2_reconnect_max_ms = 2000;  // backoff cap
  uint64_t l1_memory = 64ull << 20;
  uint64_t l1_max_item_size = 1ull << 20;
  int64_t l1_max_ttl_ms = 60000;
  bool l1_negative = true;         // cache absent keys (negative entries)
  int64_t stale_if_error_ms = 0;  // fail-safe window while the L2 is unreachable; 0 = off
  std::string shm_name = "default";
  int shm_mode = 0660;  // the segment's permissions: processes that read L1 directly need rw
  // Where invalidations come from (invalidation/source.h): "tracking" (the L2 reports every
  // write: CLIENT TRACKING) or "publish" (sidecars publish their own writes; for an L2 that
  // refuses CLIENT TRACKING).
  std::string invalidation_source = "tracking";
  // tracking: only keys under these prefixes are heard, and so cached in L1; empty = every key.
  std::vector<std::string> track_prefixes;
  std::string channel = "tiercache:invalidate";  // publish: the pub/sub channel
  int64_t bus_heartbeat_ms = 100;  // own heartbeat published this often...
  int64_t bus_timeout_ms = 1000;   // ...and must come back within this, or L1 stops serving
  int maxclients = 10000;
  // Clients' own L2 connections (blocking commands, WATCH: pinned.cc) open at once, at most.
  int max_dedicated_links = 1000;
  int databases = 16;  // SELECT's bound, as the L2's `databases`
  uint64_t client_query_buffer_limit = 1ull << 30;
  uint64_t client_output_buffer_limit = 64ull << 20;
  uint64_t proto_max_bulk_len = 512ull << 20;
  std::string requirepass;
  std::string loglevel = "info";
  int metrics_port = 0;  // Prometheus endpoint (HTTP /metrics); 0 = off
  std::string metrics_bind = "127.0.0.1";
  int tls_port = 0;  // TLS listener for clients; 0 = off (the Unix socket stays plain)
  net::TlsServerOptions tls;
};

// The option table (shared/config/option_table.h).
using OptionSpec = config::Option<Config>;
const std::vector<OptionSpec>& option_specs();
bool set_option(Config& config, std::string_view name, std::string_view value, std::string* error);

// Defaults < --config FILE (TOML; [l1] memory = ... is l1-memory) < TIERCACHE_<NAME>
// environment (e.g. TIERCACHE_L2) < flags. Returns 0 to go on, 1 on error, 2 after
// --help/--version.
int parse_command_line(int argc, char** argv, Config* config);

}  // namespace tiercache::sidecar
