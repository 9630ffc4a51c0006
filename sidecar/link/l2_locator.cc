// Endpoints and the standalone locator (see l2_locator.h).
#include "sidecar/link/l2_locator.h"

#include "shared/metrics/info_text.h"
#include "shared/util/numbers.h"

namespace tiercache::sidecar {

bool parse_endpoint(std::string_view s, Endpoint* out, std::string* error) {
  if (s.substr(0, 5) == "unix:") {
    out->unix_socket = true;
    out->host = std::string(s.substr(5));
    if (out->host.empty()) {
      *error = "unix: needs a path";
      return false;
    }
    return true;
  }
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    *error = "expected HOST:PORT or unix:PATH, got '" + std::string(s) + "'";
    return false;
  }
  auto port = util::parse_int64(s.substr(colon + 1));
  if (!port || *port <= 0 || *port > 65535) {
    *error = "bad port in '" + std::string(s) + "'";
    return false;
  }
  out->unix_socket = false;
  out->host = std::string(s.substr(0, colon));
  if (out->host.size() > 2 && out->host.front() == '[' && out->host.back() == ']')
    out->host = out->host.substr(1, out->host.size() - 2);
  out->port = static_cast<int>(*port);
  return true;
}

bool parse_endpoint_list(std::string_view s, std::vector<Endpoint>* out, std::string* error) {
  out->clear();
  while (true) {
    size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    Endpoint e;
    if (!parse_endpoint(item, &e, error)) return false;
    out->push_back(std::move(e));
    if (comma == std::string_view::npos) return true;
    s.remove_prefix(comma + 1);
  }
}

std::string endpoint_text(const Endpoint& e) {
  if (e.unix_socket) return "unix:" + e.host;
  if (e.host.find(':') != std::string::npos)
    return "[" + e.host + "]:" + std::to_string(e.port);
  return e.host + ":" + std::to_string(e.port);
}

void FixedLocator::info(std::string& out) const {
  metrics::info_field(out, "l2_mode", "standalone");
  metrics::info_field(out, "l2_master", endpoint_text(endpoint_));
  metrics::info_field(out, "l2_master_switches", uint64_t{0});
}

}  // namespace tiercache::sidecar
