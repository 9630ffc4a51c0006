// Byte-size parsing (see size.h).
#include "shared/config/size.h"

#include <cctype>
#include <string>

namespace tiercache::config {

std::optional<uint64_t> parse_size(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && isspace(static_cast<unsigned char>(s[i]))) ++i;
  size_t digits_start = i;
  uint64_t v = 0;
  while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) {
    uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
    ++i;
  }
  if (i == digits_start) return std::nullopt;
  std::string unit;
  for (; i < s.size(); ++i) {
    if (isspace(static_cast<unsigned char>(s[i]))) continue;
    unit.push_back(static_cast<char>(tolower(static_cast<unsigned char>(s[i]))));
  }
  uint64_t mult = 1;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "k")
    mult = 1000;
  else if (unit == "kb" || unit == "kib")
    mult = 1024;
  else if (unit == "m")
    mult = 1000 * 1000;
  else if (unit == "mb" || unit == "mib")
    mult = 1024 * 1024;
  else if (unit == "g")
    mult = 1000ull * 1000 * 1000;
  else if (unit == "gb" || unit == "gib")
    mult = 1024ull * 1024 * 1024;
  else
    return std::nullopt;
  if (v > UINT64_MAX / mult) return std::nullopt;
  return v * mult;
}

}  // namespace tiercache::config
