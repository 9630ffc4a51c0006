// Appends RESP2 replies to an output buffer. Header-only fast paths; no allocation beyond the
// buffer's own growth (the caller keeps one buffer per connection and reuses its capacity).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shared/util/numbers.h"

namespace tiercache::resp {

inline void write_simple(std::string& out, std::string_view s) {
  out.push_back('+');
  out.append(s);
  out.append("\r\n", 2);
}
inline void write_ok(std::string& out) { out.append("+OK\r\n", 5); }

// `msg` is the whole error line without the leading '-' (e.g. "ERR syntax error").
inline void write_error(std::string& out, std::string_view msg) {
  out.push_back('-');
  out.append(msg);
  out.append("\r\n", 2);
}

inline void write_integer(std::string& out, int64_t v) {
  out.push_back(':');
  util::append_int64(out, v);
  out.append("\r\n", 2);
}

inline void write_bulk(std::string& out, std::string_view s) {
  out.push_back('$');
  util::append_int64(out, static_cast<int64_t>(s.size()));
  out.append("\r\n", 2);
  out.append(s);
  out.append("\r\n", 2);
}

inline void write_null(std::string& out) { out.append("$-1\r\n", 5); }
inline void write_null_array(std::string& out) { out.append("*-1\r\n", 5); }

inline void write_array_header(std::string& out, int64_t n) {
  out.push_back('*');
  util::append_int64(out, n);
  out.append("\r\n", 2);
}

// Redis's standard error texts, shared by both servers.
std::string wrong_arity_error(std::string_view command_name);
std::string unknown_command_error(std::string_view name, const std::string_view* args,
                                  size_t nargs);

}  // namespace tiercache::resp
