// tiercache-sidecar configuration (see config.h).
#include "sidecar/config.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "shared/config/options.h"

namespace tiercache::sidecar {
namespace {

using config::parse_int_option;
using config::parse_size_option;

template <class T>
bool set_int(T* dst, std::string_view v, int64_t lo, int64_t hi, std::string* e) {
  int64_t n = 0;
  if (!parse_int_option(v, lo, hi, &n, e)) return false;
  *dst = static_cast<T>(n);
  return true;
}

#define INT_OPT(NAME, FIELD, LO, HI, HELP)                            \
  OptionSpec {                                                        \
    NAME,                                                             \
        [](Config& c, std::string_view v, std::string* e) {           \
          return set_int(&c.FIELD, v, LO, HI, e);                     \
        },                                                            \
        [](const Config& c) { return std::to_string(c.FIELD); }, HELP \
  }
#define SIZE_OPT(NAME, FIELD, HELP)                                   \
  OptionSpec {                                                        \
    NAME,                                                             \
        [](Config& c, std::string_view v, std::string* e) {           \
          return parse_size_option(v, &c.FIELD, e);                   \
        },                                                            \
        [](const Config& c) { return std::to_string(c.FIELD); }, HELP \
  }
#define STR_OPT(NAME, FIELD, HELP)                        \
  OptionSpec {                                            \
    NAME,                                                 \
        [](Config& c, std::string_view v, std::string*) { \
          c.FIELD = std::string(v);                       \
          return true;                                    \
        },                                                \
        [](const Config& c) { return c.FIELD; }, HELP     \
  }

std::vector<OptionSpec> make_specs() {
  return {
      STR_OPT("socket", socket, "Unix socket the application connects to"),
      OptionSpec{"socket-mode",
                 [](Config& c, std::string_view v, std::string* e) {
                   return config::parse_mode_option(v, &c.socket_mode, e);
                 },
                 [](const Config& c) {
                   char b[8];
                   snprintf(b, sizeof b, "%04o", c.socket_mode);
                   return std::string(b);
                 },
                 "socket file permissions (octal)"},
      INT_OPT("port", port, 0, 65535, "TCP port for clients; 0 = off"),
      STR_OPT("bind", bind, "TCP address when port is set"),
      STR_OPT("l2", l2, "the L2: HOST:PORT or unix:PATH"),
      STR_OPT("l2-password", l2_password, "password sent with AUTH to the L2"),
      INT_OPT("l2-connect-timeout-ms", l2_connect_timeout_ms, 1, 60000,
              "give up connecting to L2 after this long"),
      INT_OPT("l2-timeout-ms", l2_timeout_ms, 1, 600000,
              "an L2 request unanswered this long fails and resets the connection"),
      INT_OPT("l2-reconnect-max-ms", l2_reconnect_max_ms, 10, 600000, "reconnect backoff cap"),
      SIZE_OPT("l1-memory", l1_memory, "size of the shared-memory L1 segment"),
      SIZE_OPT("l1-max-item-size", l1_max_item_size, "larger values bypass L1"),
      INT_OPT("l1-max-ttl-ms", l1_max_ttl_ms, 1, 86400000LL * 365, "cap on any L1 entry's TTL"),
      STR_OPT("shm-name", shm_name, "L1 segment name: /dev/shm/tiercache-<name>"),
      STR_OPT("channel", channel, "L2 pub/sub channel for invalidations"),
      INT_OPT("bus-heartbeat-ms", bus_heartbeat_ms, 10, 60000,
              "heartbeat on the invalidation channel every this many ms"),
      INT_OPT("bus-timeout-ms", bus_timeout_ms, 20, 600000,
              "no heartbeat back within this: L1 stops serving until resubscribed"),
      INT_OPT("maxclients", maxclients, 1, 1000000, "maximum client connections"),
      SIZE_OPT("client-query-buffer-limit", client_query_buffer_limit,
               "a client with more unparsed input is closed"),
      SIZE_OPT("client-output-buffer-limit", client_output_buffer_limit,
               "a client with more unsent replies is closed"),
      SIZE_OPT("proto-max-bulk-len", proto_max_bulk_len, "largest bulk string accepted"),
      STR_OPT("requirepass", requirepass, "password clients must AUTH with (optional)"),
      OptionSpec{"loglevel",
                 [](Config& c, std::string_view v, std::string* e) {
                   if (v != "debug" && v != "info" && v != "warning" && v != "error") {
                     *e = "argument must be one of debug, info, warning, error";
                     return false;
                   }
                   c.loglevel = std::string(v);
                   return true;
                 },
                 [](const Config& c) { return c.loglevel; }, "debug, info, warning, error"},
      INT_OPT("metrics-port", metrics_port, 0, 65535,
              "HTTP port of the Prometheus endpoint /metrics; 0 = off"),
      STR_OPT("metrics-bind", metrics_bind, "address of the metrics endpoint"),
  };
}

}  // namespace

const std::vector<OptionSpec>& option_specs() {
  static const std::vector<OptionSpec> specs = make_specs();
  return specs;
}

bool set_option(Config& config, std::string_view name, std::string_view value, std::string* error) {
  std::string key = config::normalize_name(name);
  for (const auto& spec : option_specs()) {
    if (spec.name == key) {
      std::string why;
      if (!spec.set(config, value, &why)) {
        *error = "invalid value for '" + key + "': " + why;
        return false;
      }
      return true;
    }
  }
  *error = "unknown option '" + std::string(name) + "'";
  return false;
}

int parse_command_line(int argc, char** argv, Config* cfg) {
  CLI::App app{"tiercache-sidecar: the per-host two-tier cache in front of tiercache-l2"};
  std::string config_path;
  app.add_option("--config", config_path, "TOML configuration file (flags override it)");
  bool version = false;
  app.add_flag("--version", version, "print the version and exit");
  std::map<std::string, std::string> given;
  for (const auto& spec : option_specs()) {
    app.add_option("--" + std::string(spec.name), given[std::string(spec.name)],
                   std::string(spec.help) + " (default: " + spec.get(Config{}) + ")");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    app.exit(e);
    return 2;
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 1;
  }
  if (version) {
    printf("tiercache-sidecar %s\n", TIERCACHE_VERSION);
    return 2;
  }
  std::string error;
  if (!config_path.empty() && !config::load_toml_file(
                                  config_path,
                                  [cfg](const std::string& n, const std::string& v,
                                        std::string* e) { return set_option(*cfg, n, v, e); },
                                  &error)) {
    fprintf(stderr, "tiercache-sidecar: %s\n", error.c_str());
    return 1;
  }
  for (const auto& spec : option_specs()) {  // environment: TIERCACHE_L1_MEMORY=...
    std::string env = "TIERCACHE_";
    for (char c : spec.name) env.push_back(c == '-' ? '_' : static_cast<char>(toupper(c)));
    if (const char* v = getenv(env.c_str())) {
      if (!set_option(*cfg, spec.name, v, &error)) {
        fprintf(stderr, "tiercache-sidecar: %s: %s\n", env.c_str(), error.c_str());
        return 1;
      }
    }
  }
  for (const auto& spec : option_specs()) {
    std::string name(spec.name);
    if (app.count("--" + name) == 0) continue;
    if (!set_option(*cfg, name, given[name], &error)) {
      fprintf(stderr, "tiercache-sidecar: --%s\n", error.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace tiercache::sidecar
