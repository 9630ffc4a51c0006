// The log of both servers: levels, the one line format, and where lines go. Files log through
// these templates; only log.cc includes spdlog, which writes the lines. (The static build
// compiles spdlog header-only: each file including it took about 11 s more to compile.)
#pragma once

#include <fmt/core.h>

#include <string>
#include <string_view>
#include <utility>

namespace tiercache::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// The level a configuration's `loglevel` names ("debug", "info", "warning", "error"; the option
// table refuses any other).
Level level_named(std::string_view name);

// From main, before anything is logged: lines read "<time> <level> <process>[<pid>] <text>",
// on stderr, or appended to `file` when it is not empty.
void setup(std::string_view process, const std::string& file = {});
void set_level(Level level);
bool enabled(Level level);
void write(Level level, std::string_view text);

template <class... A>
void at(Level level, fmt::format_string<A...> f, A&&... a) {
  if (enabled(level)) write(level, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void debug(fmt::format_string<A...> f, A&&... a) {
  at(Level::kDebug, f, std::forward<A>(a)...);
}
template <class... A>
void info(fmt::format_string<A...> f, A&&... a) {
  at(Level::kInfo, f, std::forward<A>(a)...);
}
template <class... A>
void warn(fmt::format_string<A...> f, A&&... a) {
  at(Level::kWarn, f, std::forward<A>(a)...);
}
template <class... A>
void error(fmt::format_string<A...> f, A&&... a) {
  at(Level::kError, f, std::forward<A>(a)...);
}

}  // namespace tiercache::log
