// COMMAND for both servers (see connection_commands.h): entries in Redis 7.0's 10-field form
// with flag names, COUNT, INFO, DOCS, LIST, GETKEYS, HELP.
#include <cctype>
#include <initializer_list>
#include <vector>

#include "shared/resp/reply_writer.h"
#include "shared/session/connection_commands.h"
#include "shared/util/numbers.h"

namespace tiercache::session {

namespace {

bool error(std::string& out, std::string_view msg) {
  resp::write_error(out, msg);
  return false;
}

bool help_reply(std::string& out, std::initializer_list<std::string_view> lines) {
  resp::write_array_header(out, static_cast<int64_t>(lines.size()));
  for (auto l : lines) resp::write_simple(out, l);
  return true;
}

}  // namespace

bool subcommand_error(std::string& out, std::span<const std::string_view> args,
                      std::string_view name, std::span<const std::string_view> known) {
  std::string_view sub = args[1];
  std::string lower;
  for (char c : sub) lower.push_back(static_cast<char>(tolower(static_cast<unsigned char>(c))));
  for (auto k : known) {
    if (k == lower) return error(out, resp::wrong_arity_error(std::string(name) + "|" + lower));
  }
  std::string upper;
  for (char c : name) upper.push_back(static_cast<char>(toupper(static_cast<unsigned char>(c))));
  return error(out, "ERR unknown subcommand '" + std::string(sub) + "'. Try " + upper + " HELP.");
}

static void write_flag_names(std::string& out, uint32_t flags, bool movable) {
  struct FlagName {
    uint32_t flag;
    std::string_view name;
  };
  static constexpr FlagName kNames[] = {
      {command::kWrite, "write"},      {command::kRead, "readonly"},
      {command::kDenyOom, "denyoom"},  {command::kAdmin, "admin"},
      {command::kPubSub, "pubsub"},    {command::kNoScript, "noscript"},
      {command::kFast, "fast"},        {command::kNoAuth, "no_auth"},
      {command::kNoMulti, "no_multi"}, {command::kBlocking, "blocking"},
      {command::kLoading, "loading"},  {command::kAllowBusy, "allow_busy"},
  };
  int n = movable ? 1 : 0;
  for (const auto& f : kNames) n += (flags & f.flag) ? 1 : 0;
  resp::write_array_header(out, n);
  for (const auto& f : kNames)
    if (flags & f.flag) resp::write_simple(out, f.name);
  if (movable) resp::write_simple(out, "movablekeys");
}

static void write_command_info(std::string& out, const command::CommandSpec& s) {
  resp::write_array_header(out, 10);
  resp::write_bulk(out, s.name);
  resp::write_integer(out, s.arity);
  write_flag_names(out, s.flags, s.key_spec == command::KeySpec::kNumkeys);
  resp::write_integer(out, s.key_spec == command::KeySpec::kNone ? 0 : s.first_key);
  resp::write_integer(out, s.key_spec == command::KeySpec::kNone ? 0 : s.last_key);
  resp::write_integer(out, s.key_spec == command::KeySpec::kNone ? 0 : s.key_step);
  for (int i = 0; i < 4; ++i) resp::write_array_header(out, 0);  // acl, tips, key specs, subcmds
}

bool command_command(const command::CommandTable& table, std::span<const std::string_view> args,
                     std::string_view server_name, std::string& out) {
  if (args.size() == 1) {
    resp::write_array_header(out, static_cast<int64_t>(table.all().size()));
    for (const auto& s : table.all()) write_command_info(out, s);
    return true;
  }
  std::string_view sub = args[1];
  if (util::iequals(sub, "count") && args.size() == 2) {
    resp::write_integer(out, static_cast<int64_t>(table.all().size()));
    return true;
  }
  if (util::iequals(sub, "info")) {
    if (args.size() == 2) {
      resp::write_array_header(out, static_cast<int64_t>(table.all().size()));
      for (const auto& s : table.all()) write_command_info(out, s);
      return true;
    }
    resp::write_array_header(out, static_cast<int64_t>(args.size() - 2));
    for (size_t i = 2; i < args.size(); ++i) {
      const command::CommandSpec* s = table.find(args[i]);
      if (s)
        write_command_info(out, *s);
      else
        resp::write_null_array(out);
    }
    return true;
  }
  if (util::iequals(sub, "docs")) {
    // A short doc per command: enough for redis-cli's hints and for clients that list commands.
    std::vector<const command::CommandSpec*> specs;
    if (args.size() == 2) {
      for (const auto& s : table.all()) specs.push_back(&s);
    } else {
      for (size_t i = 2; i < args.size(); ++i)
        if (const command::CommandSpec* s = table.find(args[i])) specs.push_back(s);
    }
    resp::write_array_header(out, static_cast<int64_t>(specs.size() * 2));
    for (const command::CommandSpec* s : specs) {
      resp::write_bulk(out, s->name);
      resp::write_array_header(out, 4);
      resp::write_bulk(out, "summary");
      resp::write_bulk(out, std::string(server_name) + " command; Redis 7 semantics");
      resp::write_bulk(out, "group");
      resp::write_bulk(out, command::group_name(s->group));
    }
    return true;
  }
  if (util::iequals(sub, "list")) {
    resp::write_array_header(out, static_cast<int64_t>(table.all().size()));
    for (const auto& s : table.all()) resp::write_bulk(out, s.name);
    return true;
  }
  if (util::iequals(sub, "getkeys") && args.size() >= 3) {
    const command::CommandSpec* s = table.find(args[2]);
    if (!s) return error(out, "ERR Invalid command specified");
    std::vector<int> pos;
    auto rest = args.subspan(2);
    if (!command::CommandTable::arity_ok(*s, rest.size()))
      return error(out, "ERR Invalid number of arguments specified for command");
    if (!command::CommandTable::key_positions(*s, rest, &pos) || pos.empty())
      return error(out, "ERR The command has no key arguments");
    resp::write_array_header(out, static_cast<int64_t>(pos.size()));
    for (int p : pos) resp::write_bulk(out, rest[p]);
    return true;
  }
  if (util::iequals(sub, "help") && args.size() == 2)
    return help_reply(out,
                      {"COMMAND [<subcommand>]. Subcommands are:", "COUNT", "INFO [<name> ...]",
                       "DOCS [<name> ...]", "LIST", "GETKEYS <full-command>"});
  static constexpr std::string_view kKnown[] = {"count", "info", "docs", "list", "getkeys", "help"};
  return subcommand_error(out, args, "command", kKnown);
}

}  // namespace tiercache::session
