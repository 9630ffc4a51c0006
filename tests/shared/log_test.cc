// shared/log: a configuration's level names, and the level deciding what is formatted at all.
#include "shared/log/log.h"

#include <doctest/doctest.h>
#include <fmt/format.h>  // formatter<std::string>::format, defined here when fmt is a library

#include <string>

using tiercache::log::Level;
namespace tlog = tiercache::log;  // (::log is the C library's)

TEST_CASE("loglevel names map to levels; anything else is info") {
  CHECK(tlog::level_named("debug") == Level::kDebug);
  CHECK(tlog::level_named("info") == Level::kInfo);
  CHECK(tlog::level_named("warning") == Level::kWarn);
  CHECK(tlog::level_named("error") == Level::kError);
  CHECK(tlog::level_named("notice") == Level::kInfo);
}

namespace {
struct Counted {
  int* formatted;
};
}  // namespace

template <>
struct fmt::formatter<Counted> : fmt::formatter<std::string> {
  auto format(const Counted& c, fmt::format_context& ctx) const {
    ++*c.formatted;
    return fmt::formatter<std::string>::format("counted", ctx);
  }
};

TEST_CASE("a line below the level is neither formatted nor written") {
  int formatted = 0;
  tlog::set_level(Level::kWarn);
  CHECK_FALSE(tlog::enabled(Level::kInfo));
  CHECK(tlog::enabled(Level::kWarn));
  CHECK(tlog::enabled(Level::kError));
  tlog::info("skipped {}", Counted{&formatted});
  tlog::debug("skipped {}", Counted{&formatted});
  CHECK(formatted == 0);
  tlog::warn("log_test: a warning, formatted once: {}", Counted{&formatted});
  CHECK(formatted == 1);
  tlog::set_level(Level::kInfo);
  CHECK(tlog::enabled(Level::kInfo));
  CHECK_FALSE(tlog::enabled(Level::kDebug));
}
