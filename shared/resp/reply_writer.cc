// Standard error texts (see reply_writer.h).
#include "shared/resp/reply_writer.h"

#include <cctype>

namespace tiercache::resp {

std::string wrong_arity_error(std::string_view command_name) {
  std::string s = "ERR wrong number of arguments for '";
  for (char c : command_name)
    s.push_back(static_cast<char>(tolower(static_cast<unsigned char>(c))));
  s += "' command";
  return s;
}

std::string unknown_command_error(std::string_view name, const std::string_view* args,
                                  size_t nargs) {
  // Redis truncates the echoed name and arguments to 128 bytes each.
  std::string s = "ERR unknown command '";
  auto append_clean = [&s](std::string_view v) {
    size_t n = v.size() < 128 ? v.size() : 128;
    for (size_t i = 0; i < n; ++i) {
      char c = v[i];
      s.push_back((c == '\r' || c == '\n') ? ' ' : c);
    }
  };
  append_clean(name);
  s += "', with args beginning with: ";
  for (size_t i = 0; i < nargs; ++i) {
    s += "'";
    append_clean(args[i]);
    s += "' ";
  }
  return s;
}

}  // namespace tiercache::resp
