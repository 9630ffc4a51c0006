// tiercache-sidecar configuration (see config.h): the option table.
#include "sidecar/config.h"

#include <initializer_list>

#include "shared/net/tls_options.h"

namespace tiercache::sidecar {
namespace {

// A setting that takes one of a few words; anything else is refused, naming them.
bool set_one_of(std::string& field, std::string_view v,
                std::initializer_list<std::string_view> values, std::string* error) {
  for (std::string_view ok : values)
    if (v == ok) {
      field = std::string(v);
      return true;
    }
  *error = "argument must be one of ";
  for (std::string_view ok : values) {
    if (ok != *values.begin()) *error += ", ";
    *error += ok;
  }
  return false;
}

std::vector<OptionSpec> make_specs() {
  std::vector<OptionSpec> rows = {
      TC_STRING_OPTION(Config, "socket", socket, false, "Unix socket the application connects to"),
      TC_MODE_OPTION(Config, "socket-mode", socket_mode, false, "socket file permissions (octal)"),
      TC_INT_OPTION(Config, "port", port, 0, 65535, false, "TCP port for clients; 0 = off"),
      TC_STRING_OPTION(Config, "bind", bind, false, "TCP address when port is set"),
      TC_STRING_OPTION(Config, "l2", l2, false,
                       "the L2: HOST:PORT or unix:PATH; in l2-mode sentinel the sentinels, "
                       "in l2-mode cluster the seed nodes, comma-separated"),
      OptionSpec{"l2-mode",
                 [](Config& c, std::string_view v, std::string* e) {
                   return set_one_of(c.l2_mode, v, {"standalone", "sentinel", "cluster"}, e);
                 },
                 [](const Config& c) { return c.l2_mode; }, false,
                 "standalone (l2 is the L2), sentinel (l2 lists Redis Sentinels; the L2 is "
                 "the master they name l2-sentinel-master, followed across failovers) or cluster "
                 "(l2 lists seed nodes of a Redis Cluster; requests go to each key's master)"},
      TC_STRING_OPTION(Config, "l2-sentinel-master", l2_sentinel_master, false,
                       "l2-mode sentinel: the master name the sentinels monitor"),
      TC_STRING_OPTION(Config, "l2-sentinel-password", l2_sentinel_password, false,
                       "l2-mode sentinel: password sent with AUTH to the sentinels; empty: none"),
      TC_STRING_OPTION(Config, "l2-password", l2_password, false,
                       "password sent with AUTH to the L2"),
      TC_STRING_OPTION(Config, "l2-user", l2_user, false,
                       "ACL user for AUTH to the L2 (with l2-password); empty: default user"),
      OptionSpec{"l2-tls",
                 [](Config& c, std::string_view v, std::string* e) {
                   return net::parse_yes_no(v, &c.l2_tls, e);
                 },
                 [](const Config& c) { return std::string(c.l2_tls ? "yes" : "no"); }, false,
                 "speak TLS to the L2 (yes/no); its certificate is verified"},
      TC_STRING_OPTION(Config, "l2-tls-ca-file", l2_tls_options.ca_file, false,
                       "CA certificates for the L2's certificate (empty: the system's)"),
      TC_STRING_OPTION(Config, "l2-tls-cert-file", l2_tls_options.cert_file, false,
                       "client certificate for mutual TLS with the L2"),
      TC_STRING_OPTION(Config, "l2-tls-key-file", l2_tls_options.key_file, false,
                       "key of the client certificate"),
      TC_STRING_OPTION(Config, "l2-tls-server-name", l2_tls_options.server_name, false,
                       "name the L2's certificate must carry, sent as SNI (empty: the host)"),
      TC_INT_OPTION(Config, "l2-connect-timeout-ms", l2_connect_timeout_ms, 1, 60000, false,
                    "give up connecting to L2 after this long"),
      TC_INT_OPTION(Config, "l2-timeout-ms", l2_timeout_ms, 1, 600000, false,
                    "an L2 request unanswered this long, the L2 silent all that time, "
                    "fails and resets the connection"),
      TC_INT_OPTION(Config, "l2-reconnect-max-ms", l2_reconnect_max_ms, 10, 600000, false,
                    "reconnect backoff cap"),
      TC_SIZE_OPTION(Config, "l1-memory", l1_memory, false, "size of the shared-memory L1 segment"),
      TC_SIZE_OPTION(Config, "l1-max-item-size", l1_max_item_size, false,
                     "larger values bypass L1"),
      TC_INT_OPTION(Config, "l1-max-ttl-ms", l1_max_ttl_ms, 1, 86400000LL * 365, false,
                    "cap on any L1 entry's TTL"),
      TC_ONOFF_OPTION(Config, "l1-negative", l1_negative, false,
                      "cache keys read absent at the L2 (negative entries): on or off"),
      TC_INT_OPTION(Config, "stale-if-error-ms", stale_if_error_ms, 0, 86400000LL, false,
                    "while the L2 is unreachable, answer L1 hits last verified at most this "
                    "many ms ago instead of the L2 error; 0 = off"),
      TC_STRING_OPTION(Config, "shm-name", shm_name, false,
                       "L1 segment name: /dev/shm/tiercache-<name>"),
      TC_MODE_OPTION(Config, "shm-mode", shm_mode, false,
                     "L1 segment permissions (octal); direct readers need read and write"),
      OptionSpec{"invalidation-source",
                 [](Config& c, std::string_view v, std::string* e) {
                   return set_one_of(c.invalidation_source, v, {"tracking", "publish"}, e);
                 },
                 [](const Config& c) { return c.invalidation_source; }, false,
                 "tracking (the L2 reports every write: CLIENT TRACKING) or publish (for an L2 "
                 "without it: sidecars publish their own writes)"},
      TC_LIST_OPTION(Config, "track-prefix", track_prefixes, false,
                     "tracking: hear (and cache in L1) only keys under this prefix; repeatable; "
                     "none = every key"),
      TC_STRING_OPTION(Config, "channel", channel, false,
                       "publish: L2 pub/sub channel for invalidations"),
      TC_INT_OPTION(Config, "bus-heartbeat-ms", bus_heartbeat_ms, 10, 60000, false,
                    "heartbeat on the invalidation channel every this many ms"),
      TC_INT_OPTION(Config, "bus-timeout-ms", bus_timeout_ms, 20, 600000, false,
                    "no heartbeat back within this: L1 stops serving until resubscribed"),
      TC_INT_OPTION(Config, "maxclients", maxclients, 1, 1000000, false,
                    "maximum client connections"),
      TC_INT_OPTION(Config, "max-dedicated-links", max_dedicated_links, 0, 1000000, false,
                    "clients' own L2 connections (blocking commands, WATCH) open at most"),
      TC_INT_OPTION(Config, "databases", databases, 1, 1024, false,
                    "number of databases for SELECT (as the L2's)"),
      TC_SIZE_OPTION(Config, "client-query-buffer-limit", client_query_buffer_limit, false,
                     "a client with more unparsed input is closed"),
      TC_SIZE_OPTION(Config, "client-output-buffer-limit", client_output_buffer_limit, false,
                     "a client with more unsent replies is closed"),
      TC_SIZE_OPTION(Config, "proto-max-bulk-len", proto_max_bulk_len, false,
                     "largest bulk string accepted"),
      TC_STRING_OPTION(Config, "requirepass", requirepass, false,
                       "password clients must AUTH with (optional)"),
      TC_LOGLEVEL_OPTION(Config, loglevel),
      TC_INT_OPTION(Config, "metrics-port", metrics_port, 0, 65535, false,
                    "HTTP port of the Prometheus endpoint /metrics; 0 = off"),
      TC_STRING_OPTION(Config, "metrics-bind", metrics_bind, false,
                       "address of the metrics endpoint"),
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
      option_specs(), "tiercache-sidecar",
      "tiercache-sidecar: the per-host two-tier cache in front of tiercache-l2", TIERCACHE_VERSION,
      argc, argv, config);
}

}  // namespace tiercache::sidecar
