// One option table per binary drives the TOML file, environment variables, command-line flags
// and run-time CONFIG GET/SET, so the four can never disagree. Header-only (templates over the
// binary's Config struct). The flags themselves are parsed by parse_flags (options.cc), so
// CLI11 (10 s of compile time in each file including it) stays out of this header.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/options.h"

namespace tiercache::config {

template <class C>
struct Option {
  std::string_view name;  // canonical spelling: lower case with dashes
  bool (*set)(C&, std::string_view value, std::string* error);
  std::string (*get)(const C&);
  bool runtime;  // may be changed while running (CONFIG SET)
  std::string_view help;
  // A list: the value is comma-separated; the flag may be repeated and a TOML array of strings
  // is accepted (both joined with commas); the environment variable is comma-separated.
  bool list = false;
};

template <class C>
const Option<C>* find_option(const std::vector<Option<C>>& table, std::string_view name) {
  std::string key = normalize_name(name);
  for (const auto& o : table)
    if (o.name == key) return &o;
  return nullptr;
}

// Sets one option by any spelling (dashes, underscores, dots, case). False with *error.
template <class C>
bool set_option(const std::vector<Option<C>>& table, C& config, std::string_view name,
                std::string_view value, std::string* error) {
  const Option<C>* o = find_option(table, name);
  if (o == nullptr) {
    *error = "unknown option '" + std::string(name) + "'";
    return false;
  }
  std::string why;
  if (!o->set(config, value, &why)) {
    *error = "invalid value for '" + std::string(o->name) + "': " + why;
    return false;
  }
  return true;
}

// The environment variable for an option: TIERCACHE_<NAME>, upper case, dashes as underscores.
inline std::string env_name(std::string_view option) {
  std::string env = "TIERCACHE_";
  for (char c : option) env.push_back(c == '-' ? '_' : static_cast<char>(toupper(c)));
  return env;
}

// Applies, in order of precedence: defaults < --config FILE (TOML) < TIERCACHE_<NAME>
// environment variables < flags. Returns 0 to go on, 1 on error (printed to stderr), 2 after
// --help or --version (printed; exit 0).
template <class C>
int parse_command_line(const std::vector<Option<C>>& table, const char* program,
                       const char* description, const char* version, int argc, char** argv,
                       C* config) {
  // One object: GCC 12 misreads the strings of nested option structs in a default-constructed
  // Config as maybe uninitialised (a false -Wmaybe-uninitialized at -O3).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
  static const C defaults{};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  std::vector<Flag> flags;
  for (const auto& o : table)
    flags.push_back(Flag{std::string(o.name),
                         std::string(o.help) + " (default: " + o.get(defaults) + ")", o.list});
  ParsedFlags given;
  if (int rc = parse_flags(description, flags, argc, argv, &given); rc != 0) return rc;
  if (given.version) {
    printf("%s %s\n", program, version);
    return 2;
  }
  std::string error;
  auto setter = [&table, config](const std::string& n, const std::string& v, std::string* e) {
    return set_option(table, *config, n, v, e);
  };
  if (!given.config_path.empty() && !load_toml_file(given.config_path, setter, &error)) {
    fprintf(stderr, "%s: %s\n", program, error.c_str());
    return 1;
  }
  for (const auto& o : table) {
    std::string env = env_name(o.name);
    if (const char* v = getenv(env.c_str())) {
      if (!set_option(table, *config, o.name, v, &error)) {
        fprintf(stderr, "%s: %s: %s\n", program, env.c_str(), error.c_str());
        return 1;
      }
    }
  }
  for (const auto& o : table) {
    auto it = given.values.find(std::string(o.name));
    if (it == given.values.end()) continue;
    if (!set_option(table, *config, o.name, it->second, &error)) {
      fprintf(stderr, "%s: %s\n", program, error.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace tiercache::config

// Rows for integer, size, string and mode fields of a Config struct C. Each expands to an
// Option<C> whose setter validates with the shared parsers.
#define TC_INT_OPTION(C, NAME, FIELD, LO, HI, RUNTIME, HELP)                          \
  ::tiercache::config::Option<C> {                                                    \
    NAME,                                                                             \
        [](C& c, std::string_view v, std::string* e) {                                \
          int64_t n = 0;                                                              \
          if (!::tiercache::config::parse_int_option(v, LO, HI, &n, e)) return false; \
          c.FIELD = static_cast<decltype(c.FIELD)>(n);                                \
          return true;                                                                \
        },                                                                            \
        [](const C& c) { return std::to_string(c.FIELD); }, RUNTIME, HELP             \
  }
#define TC_SIZE_OPTION(C, NAME, FIELD, RUNTIME, HELP)                     \
  ::tiercache::config::Option<C> {                                        \
    NAME,                                                                 \
        [](C& c, std::string_view v, std::string* e) {                    \
          return ::tiercache::config::parse_size_option(v, &c.FIELD, e);  \
        },                                                                \
        [](const C& c) { return std::to_string(c.FIELD); }, RUNTIME, HELP \
  }
#define TC_STRING_OPTION(C, NAME, FIELD, RUNTIME, HELP)   \
  ::tiercache::config::Option<C> {                        \
    NAME,                                                 \
        [](C& c, std::string_view v, std::string*) {      \
          c.FIELD = std::string(v);                       \
          return true;                                    \
        },                                                \
        [](const C& c) { return c.FIELD; }, RUNTIME, HELP \
  }
// A list of strings (std::vector<std::string> field), given comma-separated (see Option::list).
#define TC_LIST_OPTION(C, NAME, FIELD, RUNTIME, HELP)                                  \
  ::tiercache::config::Option<C> {                                                     \
    NAME,                                                                              \
        [](C& c, std::string_view v, std::string*) {                                   \
          c.FIELD = ::tiercache::config::split_list(v);                                \
          return true;                                                                 \
        },                                                                             \
        [](const C& c) { return ::tiercache::config::join_list(c.FIELD); }, RUNTIME, HELP, \
        true                                                                           \
  }
#define TC_MODE_OPTION(C, NAME, FIELD, RUNTIME, HELP)                    \
  ::tiercache::config::Option<C> {                                       \
    NAME,                                                                \
        [](C& c, std::string_view v, std::string* e) {                   \
          return ::tiercache::config::parse_mode_option(v, &c.FIELD, e); \
        },                                                               \
        [](const C& c) {                                                 \
          char b[8];                                                     \
          snprintf(b, sizeof b, "%04o", static_cast<unsigned>(c.FIELD)); \
          return std::string(b);                                         \
        },                                                               \
        RUNTIME, HELP                                                    \
  }
// Parses a boolean option: the words of `yes` set it, those of `no` clear it, anything else
// fails with `error_text`.
namespace tiercache::config {
inline bool set_switch(bool* field, std::string_view v, std::initializer_list<std::string_view> yes,
                       std::initializer_list<std::string_view> no, const char* error_text,
                       std::string* e) {
  for (std::string_view w : yes)
    if (v == w) return *field = true, true;
  for (std::string_view w : no)
    if (v == w) return *field = false, true;
  *e = error_text;
  return false;
}
}  // namespace tiercache::config

// A switch: on/off (also yes/no, true/false, 1/0, and TOML's booleans); shown as on/off.
#define TC_ONOFF_OPTION(C, NAME, FIELD, RUNTIME, HELP)                                     \
  ::tiercache::config::Option<C> {                                                         \
    NAME,                                                                                  \
        [](C& c, std::string_view v, std::string* e) {                                     \
          return ::tiercache::config::set_switch(&c.FIELD, v, {"on", "yes", "true", "1"},  \
                                                 {"off", "no", "false", "0"},              \
                                                 "argument must be on or off", e);         \
        },                                                                                 \
        [](const C& c) { return std::string(c.FIELD ? "on" : "off"); }, RUNTIME, HELP     \
  }
// A Redis boolean: yes/no (also TOML's true/false), shown as yes/no, Redis's error text.
#define TC_YESNO_OPTION(C, NAME, FIELD, RUNTIME, HELP)                                   \
  ::tiercache::config::Option<C> {                                                       \
    NAME,                                                                                \
        [](C& c, std::string_view v, std::string* e) {                                   \
          return ::tiercache::config::set_switch(&c.FIELD, v, {"yes", "true"}, {"no", "false"}, \
                                                 "argument must be 'yes' or 'no'", e);   \
        },                                                                               \
        [](const C& c) { return std::string(c.FIELD ? "yes" : "no"); }, RUNTIME, HELP   \
  }
#define TC_LOGLEVEL_OPTION(C, FIELD)                                              \
  ::tiercache::config::Option<C> {                                                \
    "loglevel",                                                                   \
        [](C& c, std::string_view v, std::string* e) {                            \
          if (v != "debug" && v != "info" && v != "warning" && v != "error") {    \
            *e = "argument must be one of debug, info, warning, error";           \
            return false;                                                         \
          }                                                                       \
          c.FIELD = std::string(v);                                               \
          return true;                                                            \
        },                                                                        \
        [](const C& c) { return c.FIELD; }, true, "debug, info, warning or error" \
  }
