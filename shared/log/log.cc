// The log's one writer: spdlog, set up once by main (log.h).
#include "shared/log/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

namespace tiercache::log {

namespace {
spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}
}  // namespace

Level level_named(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  return Level::kInfo;
}

void setup(std::string_view process, const std::string& file) {
  if (!file.empty())
    spdlog::set_default_logger(spdlog::basic_logger_mt(std::string(process), file));
  spdlog::set_pattern(fmt::format("%Y-%m-%dT%H:%M:%S.%e %^%l%$ {}[%P] %v", process));
}

void set_level(Level level) { spdlog::set_level(to_spdlog(level)); }

bool enabled(Level level) { return spdlog::should_log(to_spdlog(level)); }

void write(Level level, std::string_view text) { spdlog::log(to_spdlog(level), "{}", text); }

}  // namespace tiercache::log
