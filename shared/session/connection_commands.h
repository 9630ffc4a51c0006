// The connection commands' rules, written once for both servers (tiercache-l2 and the
// sidecar), as Redis 7.0 answers them: AUTH, HELLO, SELECT and the version both report. Each
// server keeps its own client state and applies what these functions decide.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "shared/command/command_table.h"

namespace tiercache::session {

// The Redis version both servers report (INFO redis_version, HELLO, Lua's redis.REDIS_VERSION).
inline constexpr std::string_view kRedisVersion = "7.0.15";

// Compares in time independent of where the first difference is (passwords).
bool secure_equal(std::string_view a, std::string_view b);

// AUTH [user] password against requirepass, as Redis 7.0 with the `default` user alone: ""
// when accepted, else the error to reply. `user` is empty for AUTH <password>.
std::string check_auth(std::string_view requirepass, std::string_view user,
                       std::string_view password);

// AUTH's arguments (args[0] is the name): "" and *user/*password set (*user empty when not
// given), or the error to reply.
std::string parse_auth(std::span<const std::string_view> args, std::string_view* user,
                       std::string_view* password);

// HELLO [protover [AUTH user pass] [SETNAME name]], parsed. Apply auth first (check_auth),
// then refuse with kHelloNoAuth if the client is still not authenticated, then set the name.
struct HelloRequest {
  bool has_auth = false;
  std::string_view user, password;
  bool has_name = false;
  std::string_view name;
};
// "" with *out filled, or the error to reply (bad protocol version, syntax, bad name).
std::string parse_hello(std::span<const std::string_view> args, HelloRequest* out);
inline constexpr std::string_view kHelloNoAuth =
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
    "<proto> AUTH <user> <pass> option can be used to authenticate the client and select the "
    "RESP protocol version at the same time";
// HELLO's reply (RESP2 map as a flat array).
void write_hello(std::string& out, std::string_view server_name, int64_t client_id);

// SELECT's argument against the number of databases: "" and *db set, or the error to reply.
std::string parse_select(std::string_view arg, int databases, int* db);

// COMMAND [COUNT | INFO [name ...] | DOCS [name ...] | LIST | GETKEYS cmd ... | HELP] over the
// table, entries in Redis 7.0's 10-field form; the docs' summary names server_name. Writes the
// reply to out; false when it is an error.
bool command_command(const command::CommandTable& table, std::span<const std::string_view> args,
                     std::string_view server_name, std::string& out);

// The error for a container command (CLIENT, COMMAND, ...) whose subcommand (args[1]) is
// unknown or has the wrong number of arguments, in Redis 7's words. Returns false.
bool subcommand_error(std::string& out, std::span<const std::string_view> args,
                      std::string_view name, std::span<const std::string_view> known);

// CLIENT SETNAME's rule: printable, no spaces.
bool valid_client_name(std::string_view name);

}  // namespace tiercache::session
