// Helpers both servers use to read options from TOML files and flags with one code path.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tiercache::config {

// "--Max_TTL" style names to the canonical "max-ttl" spelling (lower case, dashes).
std::string normalize_name(std::string_view name);

// Integer in [lo, hi]; false with *error otherwise.
bool parse_int_option(std::string_view v, int64_t lo, int64_t hi, int64_t* out, std::string* error);
// Size with units (see size.h); false with *error otherwise.
bool parse_size_option(std::string_view v, uint64_t* out, std::string* error);
// Octal file mode such as 660 or 0660.
bool parse_mode_option(std::string_view v, int* out, std::string* error);

// Reads a TOML file and calls set(name, value) for every key, as strings. Keys of a table
// [l1] become "l1-memory" etc. (joined with '-'). False with *error (file:line for syntax
// errors, or the setter's error). Exceptions from the TOML library stay inside.
using OptionSetter =
    std::function<bool(const std::string& name, const std::string& value, std::string* error)>;
// List options (Option::list): "a,b" <-> {"a", "b"}; "" is the empty list.
std::vector<std::string> split_list(std::string_view v);
std::string join_list(const std::vector<std::string>& items);

bool load_toml_file(const std::string& path, const OptionSetter& set, std::string* error);

// The command line's flags (CLI11, kept in options.cc): --config FILE, --version and one
// --NAME VALUE per option. A list flag may be repeated; its values are joined with commas.
struct Flag {
  std::string name;  // without the dashes
  std::string help;
  bool list = false;
};
struct ParsedFlags {
  std::string config_path;
  bool version = false;
  std::map<std::string, std::string> values;  // the flags given, by name
};
// 0 to go on; 1 after an error, 2 after --help (both printed, as CLI11 prints them).
int parse_flags(const char* description, const std::vector<Flag>& flags, int argc, char** argv,
                ParsedFlags* out);

}  // namespace tiercache::config
