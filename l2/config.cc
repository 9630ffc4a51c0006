// tiercache-l2 configuration (see config.h).
#include "l2/config.h"

#include <toml++/toml.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "shared/config/size.h"
#include "shared/util/numbers.h"

namespace tiercache::l2 {
namespace {

bool set_int(int* dst, std::string_view v, int lo, int hi, std::string* error) {
  auto n = util::parse_int64(v);
  if (!n || *n < lo || *n > hi) {
    *error =
        "argument must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi);
    return false;
  }
  *dst = static_cast<int>(*n);
  return true;
}

bool set_size(uint64_t* dst, std::string_view v, std::string* error) {
  auto n = config::parse_size(v);
  if (!n) {
    *error = "argument must be a memory value (e.g. 1048576, 64mb, 64MiB)";
    return false;
  }
  *dst = *n;
  return true;
}

std::string show_octal(int v) {
  char buf[16];
  snprintf(buf, sizeof buf, "%o", v);
  return buf;
}

#define INT_OPT(NAME, FIELD, LO, HI, RT)                            \
  OptionSpec {                                                      \
    NAME,                                                           \
        [](Config& c, std::string_view v, std::string* e) {         \
          return set_int(&c.FIELD, v, LO, HI, e);                   \
        },                                                          \
        [](const Config& c) { return std::to_string(c.FIELD); }, RT \
  }
#define SIZE_OPT(NAME, FIELD, RT)                                                                 \
  OptionSpec {                                                                                    \
    NAME, [](Config& c, std::string_view v, std::string* e) { return set_size(&c.FIELD, v, e); }, \
        [](const Config& c) { return std::to_string(c.FIELD); }, RT                               \
  }
#define STR_OPT(NAME, FIELD, RT)                          \
  OptionSpec {                                            \
    NAME,                                                 \
        [](Config& c, std::string_view v, std::string*) { \
          c.FIELD = std::string(v);                       \
          return true;                                    \
        },                                                \
        [](const Config& c) { return c.FIELD; }, RT       \
  }

std::vector<OptionSpec> make_specs() {
  return {
      STR_OPT("bind", bind, false),
      INT_OPT("port", port, 0, 65535, false),
      STR_OPT("unixsocket", unixsocket, false),
      OptionSpec{"unixsocketperm",
                 [](Config& c, std::string_view v, std::string* e) {
                   int out = 0;
                   auto r = std::from_chars(v.data(), v.data() + v.size(), out, 8);
                   if (r.ec != std::errc() || r.ptr != v.data() + v.size() || out > 0777) {
                     *e = "argument must be an octal file mode (e.g. 700)";
                     return false;
                   }
                   c.unixsocketperm = out;
                   return true;
                 },
                 [](const Config& c) { return show_octal(c.unixsocketperm); }, false},
      INT_OPT("tcp-backlog", tcp_backlog, 1, 65535, false),
      INT_OPT("tcp-keepalive", tcp_keepalive, 0, 86400, true),
      INT_OPT("timeout", timeout, 0, 1000000000, true),
      INT_OPT("maxclients", maxclients, 1, 1000000, true),
      INT_OPT("databases", databases, 1, 1024, false),
      SIZE_OPT("maxmemory", maxmemory, true),
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
          true},
      INT_OPT("maxmemory-samples", maxmemory_samples, 1, 64, true),
      STR_OPT("requirepass", requirepass, true),
      SIZE_OPT("proto-max-bulk-len", proto_max_bulk_len, true),
      SIZE_OPT("client-query-buffer-limit", client_query_buffer_limit, true),
      SIZE_OPT("client-output-buffer-limit-normal", client_output_buffer_limit_normal, true),
      SIZE_OPT("client-output-buffer-limit-pubsub", client_output_buffer_limit_pubsub, true),
      SIZE_OPT("client-output-buffer-limit-pubsub-soft", client_output_buffer_limit_pubsub_soft,
               true),
      INT_OPT("client-output-buffer-limit-pubsub-soft-seconds",
              client_output_buffer_limit_pubsub_soft_seconds, 0, 86400, true),
      INT_OPT("hz", hz, 1, 500, true),
      OptionSpec{"lua-time-limit",
                 [](Config& c, std::string_view v, std::string* e) {
                   auto n = util::parse_int64(v);
                   if (!n || *n < 0) {
                     *e = "argument must be a non-negative integer (milliseconds)";
                     return false;
                   }
                   c.lua_time_limit = *n;
                   return true;
                 },
                 [](const Config& c) { return std::to_string(c.lua_time_limit); }, true},
      SIZE_OPT("lua-memory-limit", lua_memory_limit, true),
      OptionSpec{"loglevel",
                 [](Config& c, std::string_view v, std::string* e) {
                   if (v != "debug" && v != "info" && v != "warning" && v != "error") {
                     *e = "argument must be one of debug, info, warning, error";
                     return false;
                   }
                   c.loglevel = std::string(v);
                   return true;
                 },
                 [](const Config& c) { return c.loglevel; }, true},
      STR_OPT("logfile", logfile, false),
      INT_OPT("metrics-port", metrics_port, 0, 65535, false),
      STR_OPT("metrics-bind", metrics_bind, false),
  };
}

std::string normalize(std::string_view name) {
  std::string s(name);
  for (char& c : s) {
    if (c == '_') c = '-';
    c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

}  // namespace

const std::vector<OptionSpec>& option_specs() {
  static const std::vector<OptionSpec> specs = make_specs();
  return specs;
}

bool set_option(Config& config, std::string_view name, std::string_view value, std::string* error) {
  std::string key = normalize(name);
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

bool load_config_file(Config& config, const std::string& path, std::string* error) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    *error = path + ": " + std::string(e.description());
    return false;
  }
  for (const auto& [key, node] : table) {
    std::string value;
    if (auto s = node.value<std::string>()) {
      value = *s;
    } else if (auto i = node.value<int64_t>()) {
      value = std::to_string(*i);
    } else if (auto b = node.value<bool>()) {
      value = *b ? "yes" : "no";
    } else {
      *error = path + ": '" + std::string(key.str()) + "' must be a string or an integer";
      return false;
    }
    std::string why;
    if (!set_option(config, key.str(), value, &why)) {
      *error = path + ": " + why;
      return false;
    }
  }
  return true;
}

int parse_command_line(int argc, char** argv, Config* config) {
  CLI::App app{"tiercache-l2: the Redis-compatible shared L2 store of tiercache"};
  std::string config_path;
  app.add_option("--config", config_path, "TOML configuration file (flags override it)");
  bool version = false;
  app.add_flag("--version", version, "print the version and exit");
  std::map<std::string, std::string> given;
  for (const auto& spec : option_specs()) {
    std::string flag = "--" + std::string(spec.name);
    app.add_option(flag, given[std::string(spec.name)], "default: " + spec.get(Config{}));
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
    printf("tiercache-l2 %s\n", TIERCACHE_VERSION);
    return 2;
  }
  std::string error;
  if (!config_path.empty() && !load_config_file(*config, config_path, &error)) {
    fprintf(stderr, "tiercache-l2: %s\n", error.c_str());
    return 1;
  }
  for (const auto& spec : option_specs()) {  // environment: TIERCACHE_MAXMEMORY=...
    std::string env = "TIERCACHE_";
    for (char c : spec.name) env.push_back(c == '-' ? '_' : static_cast<char>(toupper(c)));
    if (const char* v = getenv(env.c_str())) {
      if (!set_option(*config, spec.name, v, &error)) {
        fprintf(stderr, "tiercache-l2: %s: %s\n", env.c_str(), error.c_str());
        return 1;
      }
    }
  }
  for (const auto& spec : option_specs()) {
    std::string name(spec.name);
    if (app.count("--" + name) == 0) continue;
    if (!set_option(*config, name, given[name], &error)) {
      fprintf(stderr, "tiercache-l2: --%s\n", error.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace tiercache::l2
