// The tls-* option rows, under Redis's names, for any binary whose Config has `int tls_port` and
// `net::TlsServerOptions tls` (tiercache-l2 and the sidecar's TCP listener): one table, so the
// TOML file, TIERCACHE_TLS_* variables, flags and CONFIG GET agree in both servers. Read at
// start (a change needs a restart).
#pragma once

#include <strings.h>

#include <string>
#include <string_view>
#include <vector>

#include "shared/config/option_table.h"
#include "shared/net/tls.h"

namespace tiercache::net {

// yes/no as Redis spells its booleans.
inline bool parse_yes_no(std::string_view v, bool* out, std::string* error) {
  if (v.size() == 3 && strncasecmp(v.data(), "yes", 3) == 0) {
    *out = true;
    return true;
  }
  if (v.size() == 2 && strncasecmp(v.data(), "no", 2) == 0) {
    *out = false;
    return true;
  }
  *error = "argument must be 'yes' or 'no'";
  return false;
}

template <class C>
void add_tls_server_options(std::vector<config::Option<C>>& rows) {
  using O = config::Option<C>;
  rows.push_back(TC_INT_OPTION(C, "tls-port", tls_port, 0, 65535, false,
                               "TCP port speaking TLS; 0 = off"));
  rows.push_back(TC_STRING_OPTION(C, "tls-cert-file", tls.cert_file, false,
                                  "server certificate (PEM, may hold the chain)"));
  rows.push_back(TC_STRING_OPTION(C, "tls-key-file", tls.key_file, false,
                                  "private key of the server certificate (PEM)"));
  rows.push_back(TC_STRING_OPTION(C, "tls-ca-cert-file", tls.ca_cert_file, false,
                                  "CA certificates that client certificates are checked against"));
  rows.push_back(O{"tls-auth-clients",
                   [](C& c, std::string_view v, std::string* e) {
                     *e = check_auth_clients(v);
                     if (!e->empty()) return false;
                     c.tls.auth_clients = std::string(v);
                     for (char& ch : c.tls.auth_clients) ch = static_cast<char>(tolower(ch));
                     return true;
                   },
                   [](const C& c) { return c.tls.auth_clients; }, false,
                   "client certificates: yes (required), optional or no"});
  rows.push_back(O{"tls-protocols",
                   [](C& c, std::string_view v, std::string* e) {
                     *e = check_protocols(v);
                     if (!e->empty()) return false;
                     c.tls.protocols = std::string(v);
                     return true;
                   },
                   [](const C& c) { return c.tls.protocols; }, false,
                   "protocols allowed, e.g. \"TLSv1.2 TLSv1.3\" (empty: those two)"});
  rows.push_back(TC_STRING_OPTION(C, "tls-ciphers", tls.ciphers, false,
                                  "TLSv1.2 cipher list (OpenSSL syntax; empty: default)"));
  rows.push_back(TC_STRING_OPTION(C, "tls-ciphersuites", tls.ciphersuites, false,
                                  "TLSv1.3 cipher suites (OpenSSL syntax; empty: default)"));
  rows.push_back(O{"tls-prefer-server-ciphers",
                   [](C& c, std::string_view v, std::string* e) {
                     return parse_yes_no(v, &c.tls.prefer_server_ciphers, e);
                   },
                   [](const C& c) {
                     return std::string(c.tls.prefer_server_ciphers ? "yes" : "no");
                   },
                   false, "the server's cipher order wins over the client's (yes/no)"});
}

}  // namespace tiercache::net
