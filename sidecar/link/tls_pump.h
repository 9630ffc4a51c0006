// TlsPump: TLS under hiredis for one L2 connection. hiredis 0.14 has no TLS and its async API
// only opens sockets itself (TCP or a Unix path; there is no "connect over this fd"), so the
// link lets hiredis speak plain RESP over a local Unix stream and pumps it, on the same libuv
// loop, through shared/net's TlsSession to the L2's TCP socket:
//
//   hiredis <-plain-> [accepted end] TlsPump <-TLS over TCP-> L2
//
// The local stream comes from a private listening socket (PlainRendezvous, in a 0700 directory
// of its own, made for one connection): hiredis connects to it, the pump accepts that
// connection at once, synchronously, so the accepted end is hiredis's own (nothing else can
// connect there), and the socket and its directory are removed right after. Nothing is left
// in TMPDIR, even when the process is killed (hiredis offers no way to use an abstract or an
// already-connected socket). Everything stays non-blocking; the only extra cost is one local copy each way.
// Chosen over a transport of our own so that hiredis (its reply parser, subscribed mode,
// callbacks) keeps doing all the protocol work, unchanged for plain and TLS links.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "shared/net/tls.h"

namespace tiercache::sidecar {

// The private Unix socket hiredis connects to for one TLS link connection; the destructor
// removes it and its directory (connections already made stay up).
class PlainRendezvous {
 public:
  // A new rendezvous; nullptr with *error if it cannot be made.
  static std::unique_ptr<PlainRendezvous> open(std::string* error);
  ~PlainRendezvous();
  const std::string& path() const { return path_; }
  // Accepts the connection hiredis has just made (non-blocking); -1 if none is waiting.
  int accept_one();

 private:
  PlainRendezvous() = default;
  int fd_ = -1;
  std::string dir_, path_;
};

class TlsPump {
 public:
  // Called once the TLS handshake completed (attach hiredis then), and once on failure or when
  // either side closed, with the reason (after which the pump does nothing more). The pump may
  // be destroyed inside either callback, which is the last thing it does.
  struct Events {
    virtual ~Events() = default;
    virtual void on_tls_ready() = 0;
    virtual void on_tls_failed(const std::string& why) = 0;
  };

  TlsPump(uv_loop_t* loop, const net::TlsContext& ctx, Events* events);
  ~TlsPump();  // closes both sides
  TlsPump(const TlsPump&) = delete;
  TlsPump& operator=(const TlsPump&) = delete;

  // Resolves host (blocking getaddrinfo, as hiredis does for a plain link), then connects and
  // starts the handshake. False with *error when the name does not resolve.
  bool connect(const std::string& host, int port, std::string* error);
  // Pumps between the TLS stream and the plain fd hiredis reads and writes (takes the fd).
  bool attach_plain(int fd, std::string* error);

 private:
  struct Handles;  // libuv handles; freed in their close callbacks, which may run after us
  static void on_connect(uv_connect_t* req, int status);
  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf);
  static void on_tcp_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void on_plain_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  // Writes to a stream in order (uv_try_write, then queued writes that own their bytes).
  static bool send(uv_stream_t* s, std::string_view data);
  bool send_ciphertext();
  void failed(const std::string& why);

  uv_loop_t* loop_;
  const net::TlsContext& ctx_;
  std::unique_ptr<net::TlsSession> session_;  // made by connect() (it knows the host)
  Events* events_;
  Handles* handles_;
  bool ready_ = false;
  bool done_ = false;
  std::string scratch_;
};

}  // namespace tiercache::sidecar
