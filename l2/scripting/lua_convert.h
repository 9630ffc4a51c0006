// Conversions between RESP2 replies and Lua values, with Redis's rules:
//   reply -> Lua: integer -> number, bulk -> string, nil bulk / nil array -> false,
//                 array -> table (1-based), status -> {ok=...}, error -> {err=...}
//   Lua -> reply: number -> integer (truncated), string -> bulk, true -> 1, false/nil -> nil,
//                 {err=s} -> error, {ok=s} -> status, other tables -> array up to the first nil.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "shared/resp/reply_parser.h"

struct lua_State;

namespace tiercache::l2::scripting {

// Nesting beyond this is answered with an error instead of recursing further (a table that
// contains itself would otherwise never end).
inline constexpr int kMaxReplyDepth = 1000;

// Pushes the value of the reply starting at tokens[*pos] and advances *pos past it. The
// tokens come from resp::parse_reply (so arrays are complete and nesting is bounded).
void push_reply(lua_State* L, std::span<const resp::ReplyToken> tokens, size_t* pos);

// Appends the RESP2 form of the Lua value at stack index idx to out.
void write_lua_value(lua_State* L, int idx, std::string& out, int depth = 0);

// Lua number -> integer as Redis does ((long long) cast on x86: NaN and out of range give the
// smallest int64).
int64_t lua_number_to_int64(double v);

// What redis.error_reply(s) stores as `err`: "CODE message", with ERR as the code when s has
// none, a leading '-' dropped and CR/LF trimmed at the end.
std::string normalize_error(std::string_view s);

// Replaces CR and LF with spaces so a text is safe on one RESP line.
void append_single_line(std::string& out, std::string_view s);

}  // namespace tiercache::l2::scripting
