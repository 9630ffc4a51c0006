// tiercache-l2 configuration: defaults, the TOML file, command-line flags and CONFIG GET/SET,
// all through one table of options.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "l2/keyspace/keyspace.h"
#include "shared/config/option_table.h"
#include "shared/net/tls.h"

namespace tiercache::l2 {

// One `save` rule: snapshot when at least `changes` changes happened in `seconds` seconds.
struct SaveRule {
  int64_t seconds;
  int64_t changes;
};

struct Config {
  std::string bind = "127.0.0.1";
  int port = 6479;  // 0 disables TCP
  std::string unixsocket;
  int unixsocketperm = 0700;
  int tcp_backlog = 511;
  int tcp_keepalive = 300;  // seconds, 0 = off
  int timeout = 0;          // idle client timeout in seconds, 0 = never
  int maxclients = 10000;
  int databases = 16;
  uint64_t maxmemory = 0;  // bytes, 0 = unlimited
  EvictionPolicy maxmemory_policy = EvictionPolicy::kAllKeysLru;
  int maxmemory_samples = 5;
  std::string requirepass;
  uint64_t proto_max_bulk_len = 512ull << 20;
  uint64_t client_query_buffer_limit = 1ull << 30;
  uint64_t client_output_buffer_limit_normal = 64ull << 20;  // hard limit, 0 = none
  uint64_t client_output_buffer_limit_pubsub = 32ull << 20;  // hard limit
  uint64_t client_output_buffer_limit_pubsub_soft = 8ull << 20;
  int client_output_buffer_limit_pubsub_soft_seconds = 60;
  int hz = 10;
  // After a loop turn that answered a client, poll without sleeping for this many microseconds
  // before blocking: a client that sends its next request meanwhile does not pay for waking an
  // idle CPU (costly in a VM without a polling idle driver). CPU for latency; 0 = off, as Redis.
  int busy_poll_us = 0;
  // Compact encodings of small collections (Redis 7.0's names and defaults).
  int hash_max_listpack_entries = 512;
  int hash_max_listpack_value = 64;
  int set_max_intset_entries = 512;
  int zset_max_listpack_entries = 128;
  int zset_max_listpack_value = 64;
  int64_t lua_time_limit = 5000;             // ms
  uint64_t lua_memory_limit = 256ull << 20;  // bytes of the Lua heap, 0 = unlimited
  // Persistence (RDB snapshots, l2/persistence/). Off by default: a pure cache.
  std::string dir = ".";               // where the RDB file and its temp files live
  std::string dbfilename = "dump.rdb";
  std::vector<SaveRule> save;          // BGSAVE after `seconds` if `changes` keys changed
  bool rdbcompression = true;          // LZF strings > 20 bytes in RDB files and DUMP payloads
  int64_t rdb_key_save_delay = 0;      // us slept per key while saving (tests of a slow save)
  // Loading (Redis's hidden debugging options of the same names): us slept per key loaded
  // (negative -N: 1 us once per N keys on average), and how often the loop turns meanwhile.
  int64_t key_load_delay = 0;
  int64_t loading_process_events_interval_bytes = 2 << 20;
  std::string loglevel = "info";
  std::string logfile;   // empty = stderr
  int metrics_port = 0;  // Prometheus endpoint (HTTP /metrics); 0 = off
  std::string metrics_bind = "127.0.0.1";
  int tls_port = 0;  // 0 = no TLS listener
  net::TlsServerOptions tls;
  int64_t tracking_table_max_keys = 1000000;  // CLIENT TRACKING default mode; 0 = no limit
};

// The option table (shared/config/option_table.h): one row per option, Redis's spelling.
using OptionSpec = config::Option<Config>;
const std::vector<OptionSpec>& option_specs();

// Sets an option by name (dashes or underscores). False with *error filled on a bad name/value.
bool set_option(Config& config, std::string_view name, std::string_view value, std::string* error);

// Parses argv: defaults < --config FILE (TOML) < TIERCACHE_<NAME> environment < flags.
// Returns 0 to go on, 1 on error (message printed), 2 for --help/--version (printed, exit 0).
int parse_command_line(int argc, char** argv, Config* config);

}  // namespace tiercache::l2
