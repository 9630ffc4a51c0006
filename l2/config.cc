// tiercache-l2 configuration (see config.h): the option table.
#include "l2/config.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "shared/net/tls_options.h"
#include "shared/util/numbers.h"

namespace tiercache::l2 {
namespace {

// `save`: "seconds changes [seconds changes ...]" or "" (no rules), checked as Redis does.
bool set_save(Config& c, std::string_view v, std::string* e) {
  std::vector<SaveRule> rules;
  std::vector<int64_t> nums;
  size_t i = 0;
  while (i < v.size()) {
    if (v[i] == ' ') {
      ++i;
      continue;
    }
    size_t j = v.find(' ', i);
    if (j == std::string_view::npos) j = v.size();
    auto n = util::parse_int64(v.substr(i, j - i));
    if (!n || *n < (nums.size() % 2 == 0 ? 1 : 0)) {
      *e = "Invalid save parameters";
      return false;
    }
    nums.push_back(*n);
    i = j;
  }
  if (nums.size() % 2 != 0) {
    *e = "Invalid save parameters";
    return false;
  }
  for (size_t k = 0; k < nums.size(); k += 2) rules.push_back({nums[k], nums[k + 1]});
  c.save = std::move(rules);
  return true;
}

std::string get_save(const Config& c) {
  std::string out;
  for (const SaveRule& r : c.save) {
    if (!out.empty()) out += ' ';
    out += std::to_string(r.seconds) + ' ' + std::to_string(r.changes);
  }
  return out;
}

bool set_dir(Config& c, std::string_view v, std::string* e) {
  struct stat st;
  std::string path(v);
  if (stat(path.c_str(), &st) != 0) {
    *e = strerror(errno);
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    *e = strerror(ENOTDIR);
    return false;
  }
  c.dir = path;
  return true;
}

bool set_dbfilename(Config& c, std::string_view v, std::string* e) {
  if (v.find('/') != std::string_view::npos) {
    *e = "dbfilename can't be a path, just a filename";
    return false;
  }
  c.dbfilename = std::string(v);
  return true;
}

std::vector<OptionSpec> make_specs() {
  std::vector<OptionSpec> rows = {
      TC_STRING_OPTION(Config, "bind", bind, false, "TCP address to listen on"),
      TC_INT_OPTION(Config, "port", port, 0, 65535, false, "TCP port; 0 disables TCP"),
      TC_STRING_OPTION(Config, "unixsocket", unixsocket, false, "Unix socket path"),
      TC_MODE_OPTION(Config, "unixsocketperm", unixsocketperm, false, "socket file mode (octal)"),
      TC_INT_OPTION(Config, "tcp-backlog", tcp_backlog, 1, 65535, false, "listen backlog"),
      TC_INT_OPTION(Config, "tcp-keepalive", tcp_keepalive, 0, 86400, true,
                    "TCP keepalive in seconds; 0 = off"),
      TC_INT_OPTION(Config, "timeout", timeout, 0, 1000000000, true,
                    "close clients idle this many seconds; 0 = never"),
      TC_INT_OPTION(Config, "maxclients", maxclients, 1, 1000000, true,
                    "maximum client connections"),
      TC_INT_OPTION(Config, "databases", databases, 1, 1024, false, "number of databases"),
      TC_SIZE_OPTION(Config, "maxmemory", maxmemory, true, "memory limit in bytes; 0 = unlimited"),
      OptionSpec{
          "maxmemory-policy",
          [](Config& c, std::string_view v, std::string* e) {
            if (!parse_eviction_policy(v, &c.maxmemory_policy)) {
              *e = "argument must be one of noeviction, allkeys-lru, volatile-lru, "
                   "allkeys-random, volatile-random, volatile-ttl";
              return false;
            }
            return true;
          },
          [](const Config& c) { return std::string(eviction_policy_name(c.maxmemory_policy)); },
          true, "what to evict at maxmemory"},
      TC_INT_OPTION(Config, "maxmemory-samples", maxmemory_samples, 1, 64, true,
                    "keys sampled per eviction round"),
      TC_STRING_OPTION(Config, "requirepass", requirepass, true, "password for AUTH"),
      TC_SIZE_OPTION(Config, "proto-max-bulk-len", proto_max_bulk_len, true,
                     "largest bulk string accepted"),
      TC_SIZE_OPTION(Config, "client-query-buffer-limit", client_query_buffer_limit, true,
                     "a client with more unparsed input is closed"),
      TC_SIZE_OPTION(Config, "client-output-buffer-limit-normal", client_output_buffer_limit_normal,
                     true, "a client with more unsent replies is closed; 0 = none"),
      TC_SIZE_OPTION(Config, "client-output-buffer-limit-pubsub", client_output_buffer_limit_pubsub,
                     true, "hard limit for subscribers"),
      TC_SIZE_OPTION(Config, "client-output-buffer-limit-pubsub-soft",
                     client_output_buffer_limit_pubsub_soft, true, "soft limit for subscribers"),
      TC_INT_OPTION(Config, "client-output-buffer-limit-pubsub-soft-seconds",
                    client_output_buffer_limit_pubsub_soft_seconds, 0, 86400, true,
                    "seconds over the soft limit before a subscriber is closed"),
      TC_INT_OPTION(Config, "hz", hz, 1, 500, true, "background jobs per second"),
      TC_INT_OPTION(Config, "busy-poll-us", busy_poll_us, 0, 10000, true,
                    "after answering, poll this many microseconds before sleeping; 0 = off"),
      TC_INT_OPTION(Config, "hash-max-listpack-entries", hash_max_listpack_entries, 0, INT32_MAX,
                    true, "a hash with more fields leaves the compact encoding"),
      TC_INT_OPTION(Config, "hash-max-listpack-value", hash_max_listpack_value, 0, INT32_MAX,
                    true, "a hash with a longer field or value leaves the compact encoding"),
      TC_INT_OPTION(Config, "set-max-intset-entries", set_max_intset_entries, 0, INT32_MAX, true,
                    "a set of integers with more members leaves the intset encoding"),
      TC_INT_OPTION(Config, "zset-max-listpack-entries", zset_max_listpack_entries, 0, INT32_MAX,
                    true, "a sorted set with more members leaves the compact encoding"),
      TC_INT_OPTION(Config, "zset-max-listpack-value", zset_max_listpack_value, 0, INT32_MAX,
                    true, "a sorted set with a longer member leaves the compact encoding"),
      TC_INT_OPTION(Config, "lua-time-limit", lua_time_limit, 0, INT64_MAX, true,
                    "ms a script runs before SCRIPT KILL applies"),
      TC_SIZE_OPTION(Config, "lua-memory-limit", lua_memory_limit, true,
                     "bytes of the Lua heap; 0 = unlimited"),
      TC_LOGLEVEL_OPTION(Config, loglevel),
      TC_STRING_OPTION(Config, "logfile", logfile, false, "log to this file instead of stderr"),
      TC_INT_OPTION(Config, "metrics-port", metrics_port, 0, 65535, false,
                    "Prometheus endpoint port (HTTP /metrics); 0 = off"),
      TC_STRING_OPTION(Config, "metrics-bind", metrics_bind, false,
                       "address of the metrics endpoint"),
      TC_INT_OPTION(Config, "tracking-table-max-keys", tracking_table_max_keys, 0, INT64_MAX,
                    true, "keys remembered for CLIENT TRACKING's default mode; 0 = no limit"),
      OptionSpec{"dir", set_dir, [](const Config& c) { return c.dir; }, false, "directory of the RDB file"},
      OptionSpec{"dbfilename", set_dbfilename, [](const Config& c) { return c.dbfilename; }, false,
                 "name of the RDB file in dir"},
      OptionSpec{"save", set_save, get_save, true,
                 "snapshot rules 'seconds changes ...'; empty = no automatic snapshots"},
      TC_YESNO_OPTION(Config, "rdbcompression", rdbcompression, true,
                      "LZF-compress strings longer than 20 bytes in RDB files and DUMP"),
      TC_INT_OPTION(Config, "rdb-key-save-delay", rdb_key_save_delay, 0, INT32_MAX, true,
                    "microseconds slept per key while saving (for tests); 0 = none"),
      TC_INT_OPTION(Config, "key-load-delay", key_load_delay, INT32_MIN, INT32_MAX, true,
                    "microseconds slept per key while loading (for tests); -N = 1 us once per N "
                    "keys; 0 = none"),
      TC_INT_OPTION(Config, "loading-process-events-interval-bytes",
                    loading_process_events_interval_bytes, 1024, INT32_MAX, true,
                    "bytes of the RDB file loaded between two turns of the event loop"),
  };
  net::add_tls_server_options(rows);
  return rows;
}

}  // namespace

const std::vector<OptionSpec>& option_specs() {
  static const std::vector<OptionSpec> specs = make_specs();
  return specs;
}

bool set_option(Config& config, std::string_view name, std::string_view value, std::string* error) {
  return config::set_option(option_specs(), config, name, value, error);
}

int parse_command_line(int argc, char** argv, Config* config) {
  return config::parse_command_line(
      option_specs(), "tiercache-l2",
      "tiercache-l2: the Redis-compatible shared L2 store of tiercache", TIERCACHE_VERSION, argc,
      argv, config);
}

}  // namespace tiercache::l2
