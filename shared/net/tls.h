// TLS for both servers and the sidecar's L2 link, with OpenSSL over memory BIOs: the socket
// I/O stays with libuv (never blocking the loop), this file only turns ciphertext into plaintext
// and back. TlsContext is the configuration (certificates, verification, protocols, ciphers)
// under Redis's option names and error texts; TlsSession is one connection's state.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace tiercache::net {

// Redis's tls-* options (server side: tiercache-l2 and the sidecar's TCP listener).
struct TlsServerOptions {
  std::string cert_file;
  std::string key_file;
  std::string ca_cert_file;
  std::string auth_clients = "yes";  // yes | no | optional, as tls-auth-clients
  std::string protocols;             // "TLSv1.2 TLSv1.3" (empty: those two)
  std::string ciphers;               // TLSv1.2 and below (empty: OpenSSL's default)
  std::string ciphersuites;          // TLSv1.3 (empty: OpenSSL's default)
  bool prefer_server_ciphers = false;
};

// The client side (the sidecar's link to its L2): the peer is verified unless verify is off.
struct TlsClientOptions {
  std::string ca_file;      // empty: the system's default trust store
  std::string cert_file;    // client certificate for mutual TLS (optional)
  std::string key_file;
  std::string server_name;  // SNI and the name checked in the certificate (empty: the host)
  bool verify = true;
};

// "" when `value` is one of yes/no/optional, else the error (as Redis's CONFIG SET says it).
std::string check_auth_clients(std::string_view value);
// "" when every word of `value` names a protocol Redis accepts, else the error.
std::string check_protocols(std::string_view value);

class TlsContext {
 public:
  // nullptr with *error (Redis's wording where it has one) on a bad file or setting.
  static std::unique_ptr<TlsContext> server(const TlsServerOptions& o, std::string* error);
  static std::unique_ptr<TlsContext> client(const TlsClientOptions& o, std::string* error);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool is_server() const { return server_; }
  const std::string& server_name() const { return server_name_; }
  bool verify() const { return verify_; }
  SSL_CTX* get() const { return ctx_; }

 private:
  TlsContext(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}
  SSL_CTX* ctx_;
  bool server_;
  bool verify_ = true;
  std::string server_name_;
};

// One TLS connection over memory BIOs. The owner moves bytes: ciphertext from the socket goes
// in with feed(), plaintext comes out of read(); plaintext goes in with write(), ciphertext for
// the socket comes out of take_output(). The handshake runs inside these calls; plaintext
// written before it completes (a client speaking first) waits inside the session.
class TlsSession {
 public:
  // host: the name to verify (client side; the context's server_name wins when set).
  TlsSession(const TlsContext& ctx, std::string_view host = {});
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Ciphertext received from the peer.
  void feed(const char* data, size_t n);
  enum class ReadResult { kData, kWantMore, kClosed, kError };
  // Decrypts into buf (up to cap bytes). kData with *n > 0; kWantMore when everything received
  // was consumed; kClosed on the peer's close_notify; kError (see error()) on a TLS failure.
  ReadResult read(char* buf, size_t cap, size_t* n);
  // Encrypts plaintext (or keeps it until the handshake is done). False on a TLS failure.
  bool write(std::string_view plain);
  // Appends the ciphertext to send (handshake messages, records) to out.
  void take_output(std::string& out);
  bool has_output() const;
  bool handshake_done() const;
  // Why the session failed, in words (certificate verification errors name the reason).
  const std::string& error() const { return error_; }
  // The ciphertext read buffer the socket reads into (kBufferSize bytes).
  static constexpr size_t kBufferSize = 16 * 1024;
  char* read_buffer() { return rbuf_.get(); }

 private:
  bool flush_pending();  // writes plaintext kept during the handshake
  void set_error(int ssl_error);

  SSL* ssl_;
  BIO* rbio_;  // owned by ssl_
  BIO* wbio_;  // owned by ssl_
  std::string pending_;
  std::string error_;
  std::unique_ptr<char[]> rbuf_;
};

}  // namespace tiercache::net
