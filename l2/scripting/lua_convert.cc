// RESP2 <-> Lua conversions (see lua_convert.h).
#include "l2/scripting/lua_convert.h"

#include <lua.hpp>

#include "shared/resp/reply_writer.h"

namespace tiercache::l2::scripting {

int64_t lua_number_to_int64(double v) {
  // [-2^63, 2^63): the doubles a cast can represent; everything else is what x86 gives.
  if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0)) return INT64_MIN;
  return static_cast<int64_t>(v);
}

void append_single_line(std::string& out, std::string_view s) {
  for (char c : s) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
}

std::string normalize_error(std::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  std::string_view code = "ERR", msg = s;
  size_t sp = s.find(' ');
  if (sp != std::string_view::npos) {
    code = s.substr(0, sp);
    msg = s.substr(sp + 1);
  }
  while (!msg.empty() && (msg.back() == '\r' || msg.back() == '\n')) msg.remove_suffix(1);
  std::string out(code);
  out.push_back(' ');
  out.append(msg);
  return out;
}

void push_reply(lua_State* L, std::span<const resp::ReplyToken> tokens, size_t* pos) {
  const resp::ReplyToken& t = tokens[(*pos)++];
  switch (t.type) {
    case resp::ReplyType::kInteger:
      lua_pushnumber(L, static_cast<lua_Number>(t.integer));
      return;
    case resp::ReplyType::kBulk:
      lua_pushlstring(L, t.text.data(), t.text.size());
      return;
    case resp::ReplyType::kNull:
    case resp::ReplyType::kNullArray:
      lua_pushboolean(L, 0);
      return;
    case resp::ReplyType::kSimple:
    case resp::ReplyType::kError:
      lua_createtable(L, 0, 1);
      lua_pushstring(L, t.type == resp::ReplyType::kSimple ? "ok" : "err");
      lua_pushlstring(L, t.text.data(), t.text.size());
      lua_rawset(L, -3);
      return;
    case resp::ReplyType::kArray: {
      // Nesting is bounded by the parser's max_depth; each level needs 2 slots.
      if (!lua_checkstack(L, 4)) luaL_error(L, "reached lua stack limit");
      int n = t.integer > INT32_MAX ? INT32_MAX : static_cast<int>(t.integer);
      lua_createtable(L, n, 0);
      for (int i = 1; i <= n; ++i) {
        push_reply(L, tokens, pos);
        lua_rawseti(L, -2, i);
      }
      return;
    }
  }
}

namespace {

// The string field `name` of the table at idx, if it is a string (no metamethods).
bool string_field(lua_State* L, int idx, const char* name, std::string_view* out) {
  lua_pushstring(L, name);
  lua_rawget(L, idx);
  bool found = lua_type(L, -1) == LUA_TSTRING;
  if (found) {
    size_t len = 0;
    const char* s = lua_tolstring(L, -1, &len);
    *out = std::string_view(s, len);  // still referenced by the table at idx
  }
  lua_pop(L, 1);
  return found;
}

}  // namespace

void write_lua_value(lua_State* L, int idx, std::string& out, int depth) {
  if (idx < 0) idx = lua_gettop(L) + idx + 1;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t len = 0;
      const char* s = lua_tolstring(L, idx, &len);
      resp::write_bulk(out, std::string_view(s, len));
      return;
    }
    case LUA_TBOOLEAN:
      if (lua_toboolean(L, idx))
        resp::write_integer(out, 1);
      else
        resp::write_null(out);
      return;
    case LUA_TNUMBER:
      resp::write_integer(out, lua_number_to_int64(lua_tonumber(L, idx)));
      return;
    case LUA_TTABLE: {
      std::string_view text;
      if (string_field(L, idx, "err", &text)) {
        out.push_back('-');
        append_single_line(out, text);
        out.append("\r\n");
        return;
      }
      if (string_field(L, idx, "ok", &text)) {
        out.push_back('+');
        append_single_line(out, text);
        out.append("\r\n");
        return;
      }
      if (depth >= kMaxReplyDepth || !lua_checkstack(L, 2)) {
        resp::write_error(out, "ERR reached lua stack limit");
        return;
      }
      // Count first (up to the first nil), then write.
      int64_t n = 0;
      for (;;) {
        lua_rawgeti(L, idx, static_cast<int>(n + 1));
        bool nil = lua_isnil(L, -1);
        lua_pop(L, 1);
        if (nil) break;
        ++n;
      }
      resp::write_array_header(out, n);
      for (int64_t i = 1; i <= n; ++i) {
        lua_rawgeti(L, idx, static_cast<int>(i));
        write_lua_value(L, -1, out, depth + 1);
        lua_pop(L, 1);
      }
      return;
    }
    default:  // nil, functions, userdata, threads
      resp::write_null(out);
      return;
  }
}

}  // namespace tiercache::l2::scripting
