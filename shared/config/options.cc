// Option helpers (see options.h).
#include "shared/config/options.h"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <charconv>

#include "shared/config/size.h"
#include "shared/util/numbers.h"

namespace tiercache::config {

std::string normalize_name(std::string_view name) {
  std::string s(name);
  for (char& c : s) {
    if (c == '_' || c == '.') c = '-';
    c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

bool parse_int_option(std::string_view v, int64_t lo, int64_t hi, int64_t* out,
                      std::string* error) {
  auto n = util::parse_int64(v);
  if (!n || *n < lo || *n > hi) {
    *error =
        "argument must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi);
    return false;
  }
  *out = *n;
  return true;
}

bool parse_size_option(std::string_view v, uint64_t* out, std::string* error) {
  auto n = parse_size(v);
  if (!n) {
    *error = "argument must be a memory value (e.g. 1048576, 64mb, 64MiB)";
    return false;
  }
  *out = *n;
  return true;
}

bool parse_mode_option(std::string_view v, int* out, std::string* error) {
  int mode = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), mode, 8);
  if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size() || mode > 0777) {
    *error = "argument must be an octal file mode (e.g. 660)";
    return false;
  }
  *out = mode;
  return true;
}

namespace {

bool walk(const toml::table& table, const std::string& prefix, const std::string& path,
          const OptionSetter& set, std::string* error) {
  for (const auto& [key, node] : table) {
    std::string name =
        prefix.empty() ? std::string(key.str()) : prefix + "-" + std::string(key.str());
    if (const toml::table* sub = node.as_table()) {
      if (!walk(*sub, name, path, set, error)) return false;
      continue;
    }
    std::string value;
    if (auto s = node.value<std::string>()) {
      value = *s;
    } else if (auto i = node.value<int64_t>()) {
      value = std::to_string(*i);
    } else if (auto b = node.value<bool>()) {
      value = *b ? "yes" : "no";
    } else if (const toml::array* list = node.as_array()) {
      for (const auto& item : *list) {
        auto s = item.value<std::string>();
        if (!s) {
          *error = path + ": '" + name + "' must be an array of strings";
          return false;
        }
        value += (value.empty() ? "" : ",") + *s;
      }
    } else {
      *error = path + ": '" + name + "' must be a string, an integer or a boolean";
      return false;
    }
    std::string why;
    if (!set(name, value, &why)) {
      *error = path + ": " + why;
      return false;
    }
  }
  return true;
}

}  // namespace

std::vector<std::string> split_list(std::string_view v) {
  std::vector<std::string> out;
  if (v.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t comma = v.find(',', start);
    out.emplace_back(v.substr(start, comma == std::string_view::npos ? v.size() - start
                                                                    : comma - start));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ",") + s;
  return out;
}

bool load_toml_file(const std::string& path, const OptionSetter& set, std::string* error) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    *error =
        path + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description());
    return false;
  }
  return walk(table, "", path, set, error);
}

int parse_flags(const char* description, const std::vector<Flag>& flags, int argc, char** argv,
                ParsedFlags* out) {
  CLI::App app{description};
  app.add_option("--config", out->config_path, "TOML configuration file (flags override it)");
  app.add_flag("--version", out->version, "print the version and exit");
  std::map<std::string, std::string> single;  // CLI11 writes into these while parsing
  std::map<std::string, std::vector<std::string>> lists;
  for (const Flag& f : flags) {
    if (f.list)
      app.add_option("--" + f.name, lists[f.name], f.help);
    else
      app.add_option("--" + f.name, single[f.name], f.help);
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
  for (const Flag& f : flags) {
    if (app.count("--" + f.name) == 0) continue;
    out->values[f.name] = f.list ? join_list(lists[f.name]) : single[f.name];
  }
  return 0;
}

}  // namespace tiercache::config
