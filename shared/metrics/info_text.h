// The text of an INFO reply, as Redis writes it: "# Section" headers and "name:value" lines,
// CRLF-terminated, a blank line between sections. Both servers render their INFO with these;
// shared/net/metrics_http.h parses the same format into Prometheus metrics.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tiercache::metrics {

inline void info_field(std::string& s, std::string_view name, std::string_view value) {
  s += name;
  s += ':';
  s += value;
  s += "\r\n";
}
inline void info_field(std::string& s, std::string_view name, uint64_t value) {
  info_field(s, name, std::to_string(value));
}

inline void info_header(std::string& s, std::string_view title) {
  if (!s.empty()) s += "\r\n";
  s += "# ";
  s += title;
  s += "\r\n";
}

// Whether `INFO <section>` includes section `name`: itself, "all" and "everything" always;
// "default" (and no argument) only the sections marked in_default.
inline bool info_wants(std::string_view section, std::string_view name, bool in_default) {
  if (section == name || section == "all" || section == "everything") return true;
  return in_default && section == "default";
}

}  // namespace tiercache::metrics
