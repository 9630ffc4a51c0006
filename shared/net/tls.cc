// TLS contexts and sessions over memory BIOs (see tls.h).
#include "shared/net/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <strings.h>

#include <vector>

namespace tiercache::net {
namespace {

constexpr int kTlsV1 = 1, kTlsV11 = 2, kTlsV12 = 4, kTlsV13 = 8;

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Redis's parseProtocolsConfig: -1 on an unknown word.
int parse_protocols(std::string_view s) {
  if (s.empty()) return kTlsV12 | kTlsV13;
  int p = 0;
  for (auto w : words(s)) {
    if (iequal(w, "tlsv1"))
      p |= kTlsV1;
    else if (iequal(w, "tlsv1.1"))
      p |= kTlsV11;
    else if (iequal(w, "tlsv1.2"))
      p |= kTlsV12;
    else if (iequal(w, "tlsv1.3"))
      p |= kTlsV13;
    else
      return -1;
  }
  return p;
}

std::string openssl_error() {
  char buf[256];
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown error";
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

bool is_ip(const std::string& host) {
  unsigned char addr[16];
  return inet_pton(AF_INET, host.c_str(), addr) == 1 || inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

// What both sides share, as Redis's createSSLContext: protocols, no compression, partial writes
// (the memory BIO takes any amount, but records are cut as the ciphertext is taken).
SSL_CTX* base_context(bool server, int protocols) {
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx == nullptr) return nullptr;
  long opts = SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_COMPRESSION;
  if (!(protocols & kTlsV1)) opts |= SSL_OP_NO_TLSv1;
  if (!(protocols & kTlsV11)) opts |= SSL_OP_NO_TLSv1_1;
  if (!(protocols & kTlsV12)) opts |= SSL_OP_NO_TLSv1_2;
  if (!(protocols & kTlsV13)) opts |= SSL_OP_NO_TLSv1_3;
  SSL_CTX_set_options(ctx, opts);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

bool load_pair(SSL_CTX* ctx, const std::string& cert, const std::string& key, std::string* error) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) <= 0) {
    *error = "Failed to load certificate: " + cert + ": " + openssl_error();
    return false;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) <= 0) {
    *error = "Failed to load private key: " + key + ": " + openssl_error();
    return false;
  }
  return true;
}

}  // namespace

std::string check_auth_clients(std::string_view v) {
  if (iequal(v, "yes") || iequal(v, "no") || iequal(v, "optional")) return {};
  return "argument(s) must be one of the following: no, yes, optional";
}

std::string check_protocols(std::string_view v) {
  if (parse_protocols(v) >= 0) return {};
  return "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' "
         "and 'TLSv1.3'.";
}

std::unique_ptr<TlsContext> TlsContext::server(const TlsServerOptions& o, std::string* error) {
  if (o.cert_file.empty()) {
    *error = "No tls-cert-file configured!";
    return nullptr;
  }
  if (o.key_file.empty()) {
    *error = "No tls-key-file configured!";
    return nullptr;
  }
  const bool auth_no = iequal(o.auth_clients, "no");
  if (!auth_no && o.ca_cert_file.empty()) {
    *error = "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, "
             "tls-replication or tls-auth-clients are enabled!";
    return nullptr;
  }
  int protocols = parse_protocols(o.protocols);
  if (protocols < 0) {
    *error = check_protocols(o.protocols);
    return nullptr;
  }
  SSL_CTX* ctx = base_context(true, protocols);
  std::unique_ptr<TlsContext> out(new TlsContext(ctx, true));
  if (ctx == nullptr) {
    *error = "cannot create a TLS context: " + openssl_error();
    return nullptr;
  }
  if (!load_pair(ctx, o.cert_file, o.key_file, error)) return nullptr;
  if (!o.ca_cert_file.empty() &&
      SSL_CTX_load_verify_locations(ctx, o.ca_cert_file.c_str(), nullptr) <= 0) {
    *error = "Failed to configure CA certificate(s) file/directory: " + openssl_error();
    return nullptr;
  }
  if (!o.ciphers.empty() && !SSL_CTX_set_cipher_list(ctx, o.ciphers.c_str())) {
    *error = "Failed to configure ciphers: " + o.ciphers;
    return nullptr;
  }
  if (!o.ciphersuites.empty() && !SSL_CTX_set_ciphersuites(ctx, o.ciphersuites.c_str())) {
    *error = "Failed to configure ciphersuites: " + o.ciphersuites;
    return nullptr;
  }
  if (o.prefer_server_ciphers) SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>("tiercache"), 9);
  SSL_CTX_set_dh_auto(ctx, 1);
  // tls-auth-clients: yes demands a certificate, optional checks one if sent, no asks none.
  int verify = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  if (auth_no)
    verify = SSL_VERIFY_NONE;
  else if (iequal(o.auth_clients, "optional"))
    verify = SSL_VERIFY_PEER;
  SSL_CTX_set_verify(ctx, verify, nullptr);
  return out;
}

std::unique_ptr<TlsContext> TlsContext::client(const TlsClientOptions& o, std::string* error) {
  SSL_CTX* ctx = base_context(false, kTlsV12 | kTlsV13);
  std::unique_ptr<TlsContext> out(new TlsContext(ctx, false));
  if (ctx == nullptr) {
    *error = "cannot create a TLS context: " + openssl_error();
    return nullptr;
  }
  out->verify_ = o.verify;
  out->server_name_ = o.server_name;
  if (!o.cert_file.empty() || !o.key_file.empty()) {
    if (o.cert_file.empty() || o.key_file.empty()) {
      *error = "a TLS client certificate needs both its certificate and its key file";
      return nullptr;
    }
    if (!load_pair(ctx, o.cert_file, o.key_file, error)) return nullptr;
  }
  int rc = o.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                             : SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr);
  if (rc <= 0) {
    *error = "Failed to configure CA certificate(s) file: " +
             (o.ca_file.empty() ? std::string("(system default)") : o.ca_file) + ": " +
             openssl_error();
    return nullptr;
  }
  SSL_CTX_set_verify(ctx, o.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  return out;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

TlsSession::TlsSession(const TlsContext& ctx, std::string_view host)
    : ssl_(SSL_new(ctx.get())),
      rbio_(BIO_new(BIO_s_mem())),
      wbio_(BIO_new(BIO_s_mem())),
      rbuf_(new char[kBufferSize]) {
  BIO_set_mem_eof_return(rbio_, -1);  // an empty input BIO means "more to come", not EOF
  SSL_set_bio(ssl_, rbio_, wbio_);
  if (ctx.is_server()) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  std::string name = ctx.server_name().empty() ? std::string(host) : ctx.server_name();
  if (name.empty()) return;
  if (is_ip(name)) {
    if (ctx.verify()) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, name.c_str());  // SNI
    if (ctx.verify()) SSL_set1_host(ssl_, name.c_str());
  }
}

TlsSession::~TlsSession() { SSL_free(ssl_); }  // frees both BIOs

void TlsSession::feed(const char* data, size_t n) { BIO_write(rbio_, data, static_cast<int>(n)); }

bool TlsSession::handshake_done() const { return SSL_is_init_finished(ssl_) == 1; }

bool TlsSession::has_output() const { return BIO_ctrl_pending(wbio_) > 0; }

void TlsSession::take_output(std::string& out) {
  size_t n = BIO_ctrl_pending(wbio_);
  if (n == 0) return;
  size_t at = out.size();
  out.resize(at + n);
  int got = BIO_read(wbio_, out.data() + at, static_cast<int>(n));
  out.resize(at + (got > 0 ? static_cast<size_t>(got) : 0));
}

void TlsSession::set_error(int ssl_error) {
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    error_ = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    ERR_clear_error();
    return;
  }
  if (ssl_error == SSL_ERROR_SSL) {
    error_ = openssl_error();
    return;
  }
  error_ = "TLS error " + std::to_string(ssl_error);
  ERR_clear_error();
}

TlsSession::ReadResult TlsSession::read(char* buf, size_t cap, size_t* n) {
  *n = 0;
  // Nothing fed and nothing decrypted left: OpenSSL could only fail with WANT_READ, after
  // setting up (and, as buffers are released, freeing) its 16 KiB record buffer. This is the
  // call that ends every read loop, so skipping it matters at one request per event.
  if (handshake_done() && pending_.empty() && BIO_ctrl_pending(rbio_) == 0 &&
      !SSL_has_pending(ssl_))
    return ReadResult::kWantMore;
  int r = SSL_read(ssl_, buf, static_cast<int>(cap));
  if (r > 0) {
    *n = static_cast<size_t>(r);
    if (!pending_.empty() && !flush_pending()) return ReadResult::kError;
    return ReadResult::kData;
  }
  int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    // The handshake may just have completed: what the owner wrote meanwhile goes out now.
    if (!pending_.empty() && handshake_done() && !flush_pending()) return ReadResult::kError;
    return ReadResult::kWantMore;
  }
  if (e == SSL_ERROR_ZERO_RETURN) return ReadResult::kClosed;
  set_error(e);
  return ReadResult::kError;
}

bool TlsSession::flush_pending() {
  std::string p;
  p.swap(pending_);
  return write(p);
}

bool TlsSession::write(std::string_view plain) {
  if (!handshake_done() || !pending_.empty()) {
    pending_.append(plain);
    if (!handshake_done()) {
      // Drive the handshake (a client's first flight) so there is something to send.
      int r = SSL_do_handshake(ssl_);
      if (r <= 0) {
        int e = SSL_get_error(ssl_, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
          set_error(e);
          return false;
        }
        return true;
      }
    }
    std::string p;
    p.swap(pending_);
    plain = p;
    return write(p);
  }
  while (!plain.empty()) {
    int r = SSL_write(ssl_, plain.data(), static_cast<int>(plain.size()));
    if (r <= 0) {
      set_error(SSL_get_error(ssl_, r));
      return false;
    }
    plain.remove_prefix(static_cast<size_t>(r));
  }
  return true;
}

}  // namespace tiercache::net
