// Helpers shared by the L2 command handlers: argument parsing with Redis's error texts.
#pragma once

#include <cctype>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "l2/client.h"
#include "l2/server.h"
#include "shared/resp/reply_writer.h"
#include "shared/session/connection_commands.h"
#include "shared/util/numbers.h"

namespace tiercache::l2::cmd {

inline constexpr std::string_view kSyntaxError = "ERR syntax error";
inline constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";

inline void error(CommandContext& ctx, std::string_view msg) {
  ctx.server.stats().total_error_replies++;
  resp::write_error(ctx.out, msg);
}

// Parses an integer argument; on failure writes the standard error and returns nullopt.
inline std::optional<int64_t> int_arg(CommandContext& ctx, std::string_view s) {
  auto v = util::parse_int64(s);
  if (!v) error(ctx, kNotInteger);
  return v;
}

inline bool is(std::string_view arg, std::string_view word) { return util::iequals(arg, word); }

inline std::string invalid_expire(std::string_view command) {
  return "ERR invalid expire time in '" + std::string(command) + "' command";
}

// Turns a relative or absolute expiry argument into unix ms, with Redis 7's overflow checks.
// unit_ms is 1000 for seconds, 1 for ms. Writes the error and returns false when invalid.
// allow_nonpositive: EXPIRE accepts 0 and negatives (they delete), SET/GETEX/SETEX do not.
inline bool expire_at_ms(CommandContext& ctx, std::string_view arg, int64_t unit_ms, bool absolute,
                         bool allow_nonpositive, int64_t* out) {
  auto v = int_arg(ctx, arg);
  if (!v) return false;
  int64_t when = *v;
  if (!allow_nonpositive && when <= 0) {
    error(ctx, invalid_expire(ctx.spec.name));
    return false;
  }
  if (unit_ms != 1) {
    if (when > INT64_MAX / unit_ms || when < INT64_MIN / unit_ms) {
      error(ctx, invalid_expire(ctx.spec.name));
      return false;
    }
    when *= unit_ms;
  }
  if (!absolute) {
    if ((when > 0 && ctx.now_ms > INT64_MAX - when) ||
        (when < 0 && ctx.now_ms < INT64_MIN - when)) {
      error(ctx, invalid_expire(ctx.spec.name));
      return false;
    }
    when += ctx.now_ms;
  }
  *out = when;
  return true;
}

// The error for a container command (CLIENT, CONFIG, ...) whose subcommand is unknown or has
// the wrong number of arguments, in Redis 7's words. `known` lists the valid subcommands.
inline void subcommand_error(CommandContext& ctx, std::initializer_list<std::string_view> known) {
  ctx.server.stats().total_error_replies++;
  session::subcommand_error(ctx.out, ctx.args, ctx.spec.name,
                            std::span<const std::string_view>(known.begin(), known.size()));
}

// Replies to "<COMMAND> HELP" with one line per subcommand.
inline void help_reply(CommandContext& ctx, std::initializer_list<std::string_view> lines) {
  resp::write_array_header(ctx.out, static_cast<int64_t>(lines.size()));
  for (auto l : lines) resp::write_simple(ctx.out, l);
}

}  // namespace tiercache::l2::cmd
