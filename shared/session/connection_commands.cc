// Connection commands' rules for both servers (see connection_commands.h).
#include "shared/session/connection_commands.h"

#include "shared/resp/reply_writer.h"
#include "shared/util/numbers.h"

namespace tiercache::session {

bool secure_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  size_t n = a.size() > b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

std::string check_auth(std::string_view requirepass, std::string_view user,
                       std::string_view password) {
  // As Redis 7.0's ACL with its one user, `default`, whose password is requirepass (no
  // requirepass: `nopass`, so any password is right for it, but AUTH <password> alone is an
  // error). Every other user name is refused as Redis refuses an unknown user.
  if (user.empty()) {
    if (requirepass.empty())
      return "ERR AUTH <password> called without any password configured for the default "
             "user. Are you sure your configuration is correct?";
    user = "default";
  }
  if (user != "default" || (!requirepass.empty() && !secure_equal(password, requirepass)))
    return "WRONGPASS invalid username-password pair or user is disabled.";
  return {};
}

std::string parse_auth(std::span<const std::string_view> args, std::string_view* user,
                       std::string_view* password) {
  if (args.size() > 3) return "ERR syntax error";
  *user = args.size() == 3 ? args[1] : std::string_view();
  *password = args.back();
  return {};
}

bool valid_client_name(std::string_view name) {
  for (char c : name)
    if (c < '!' || c > '~') return false;
  return true;
}

std::string parse_hello(std::span<const std::string_view> args, HelloRequest* out) {
  size_t i = 1;
  if (args.size() >= 2) {
    auto ver = util::parse_int64(args[1]);
    if (!ver) return "ERR Protocol version is not an integer or out of range";
    if (*ver != 2) return "NOPROTO unsupported protocol version";
    i = 2;
  }
  for (; i < args.size(); ++i) {
    bool more = i + 1 < args.size();
    if (util::iequals(args[i], "auth") && i + 2 < args.size()) {
      out->has_auth = true;
      out->user = args[i + 1];
      out->password = args[i + 2];
      i += 2;
    } else if (util::iequals(args[i], "setname") && more) {
      if (!valid_client_name(args[i + 1]))
        return "ERR Client names cannot contain spaces, newlines or special characters.";
      out->has_name = true;
      out->name = args[i + 1];
      ++i;
    } else {
      return "ERR Syntax error in HELLO option '" + std::string(args[i]) + "'";
    }
  }
  return {};
}

void write_hello(std::string& out, std::string_view server_name, int64_t client_id) {
  resp::write_array_header(out, 14);
  resp::write_bulk(out, "server");
  resp::write_bulk(out, server_name);
  resp::write_bulk(out, "version");
  resp::write_bulk(out, kRedisVersion);
  resp::write_bulk(out, "proto");
  resp::write_integer(out, 2);
  resp::write_bulk(out, "id");
  resp::write_integer(out, client_id);
  resp::write_bulk(out, "mode");
  resp::write_bulk(out, "standalone");
  resp::write_bulk(out, "role");
  resp::write_bulk(out, "master");
  resp::write_bulk(out, "modules");
  resp::write_array_header(out, 0);
}

std::string parse_select(std::string_view arg, int databases, int* db) {
  auto v = util::parse_int64(arg);
  if (!v) return "ERR value is not an integer or out of range";
  if (*v < 0 || *v >= databases) return "ERR DB index is out of range";
  *db = static_cast<int>(*v);
  return {};
}

}  // namespace tiercache::session
