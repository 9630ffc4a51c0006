// TlsPump and PlainRendezvous (see tls_pump.h).
#include "sidecar/link/tls_pump.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tiercache::sidecar {

std::unique_ptr<PlainRendezvous> PlainRendezvous::open(std::string* error) {
  std::unique_ptr<PlainRendezvous> r(new PlainRendezvous);
  const char* tmp = getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/tiercache-link-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    *error = "cannot create a private directory for the TLS link (" + dir + "): " + strerror(errno);
    return nullptr;
  }
  r->dir_ = dir;
  r->path_ = dir + "/plain.sock";
  sockaddr_un addr{};
  if (r->path_.size() >= sizeof addr.sun_path) {
    *error = "TLS link socket path too long: " + r->path_;
    return nullptr;
  }
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, r->path_.c_str(), r->path_.size() + 1);
  r->fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (r->fd_ < 0 || bind(r->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(r->fd_, 1) != 0) {
    *error = "cannot listen on " + r->path_ + " for the TLS link: " + strerror(errno);
    return nullptr;
  }
  return r;
}

PlainRendezvous::~PlainRendezvous() {
  if (fd_ >= 0) close(fd_);
  if (!path_.empty()) unlink(path_.c_str());
  if (!dir_.empty()) rmdir(dir_.c_str());
}

int PlainRendezvous::accept_one() {
  return accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

struct TlsPump::Handles {
  uv_tcp_t tcp;
  uv_pipe_t plain;
  uv_connect_t connect_req;
  TlsPump* owner = nullptr;  // null once the pump is gone: late callbacks do nothing
  int open = 0;              // handles not yet closed
  bool plain_open = false;
  char plain_buf[16 * 1024];

  void close_all() {
    owner = nullptr;
    auto done = [](uv_handle_t* h) {
      auto* self = static_cast<Handles*>(h->data);
      if (--self->open == 0) delete self;
    };
    if (plain_open) uv_close(reinterpret_cast<uv_handle_t*>(&plain), done);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), done);
  }
};

TlsPump::TlsPump(uv_loop_t* loop, const net::TlsContext& ctx, Events* events)
    : loop_(loop), ctx_(ctx), events_(events), handles_(new Handles) {
  handles_->owner = this;
  uv_tcp_init(loop_, &handles_->tcp);
  handles_->tcp.data = handles_;
  handles_->open = 1;
}

TlsPump::~TlsPump() { handles_->close_all(); }

bool TlsPump::connect(const std::string& host, int port, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  uv_getaddrinfo_t req;
  std::string service = std::to_string(port);
  int rc = uv_getaddrinfo(loop_, &req, nullptr, host.c_str(), service.c_str(), &hints);
  if (rc != 0) {
    *error = "cannot resolve " + host + ": " + uv_strerror(rc);
    return false;
  }
  session_ = std::make_unique<net::TlsSession>(ctx_, host);
  handles_->connect_req.data = handles_;
  rc = uv_tcp_connect(&handles_->connect_req, &handles_->tcp, req.addrinfo->ai_addr, on_connect);
  uv_freeaddrinfo(req.addrinfo);
  if (rc != 0) {
    *error = std::string("cannot connect to L2: ") + uv_strerror(rc);
    return false;
  }
  return true;
}

void TlsPump::on_connect(uv_connect_t* req, int status) {
  auto* h = static_cast<Handles*>(req->data);
  TlsPump* self = h->owner;
  if (self == nullptr) return;
  if (status != 0) return self->failed(std::string("cannot connect to L2: ") + uv_strerror(status));
  uv_tcp_nodelay(&h->tcp, 1);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&h->tcp), on_alloc, on_tcp_read);
  // The client speaks first: ClientHello.
  if (!self->session_->write({}))
    return self->failed("TLS handshake with L2 failed: " + self->session_->error());
  if (!self->send_ciphertext()) return self->failed("cannot write to L2");
}

void TlsPump::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* h = static_cast<Handles*>(handle->data);
  if (handle == reinterpret_cast<uv_handle_t*>(&h->plain) || h->owner == nullptr) {
    buf->base = h->plain_buf;
    buf->len = sizeof h->plain_buf;
    return;
  }
  buf->base = h->owner->session_->read_buffer();
  buf->len = net::TlsSession::kBufferSize;
}

bool TlsPump::send(uv_stream_t* s, std::string_view data) {
  if (data.empty()) return true;
  uv_buf_t b = uv_buf_init(const_cast<char*>(data.data()), static_cast<unsigned>(data.size()));
  int n = uv_try_write(s, &b, 1);
  if (n == UV_EAGAIN) n = 0;
  if (n < 0) return false;
  data.remove_prefix(static_cast<size_t>(n));
  if (data.empty()) return true;
  struct Write {
    uv_write_t req;
    std::string bytes;
  };
  auto* w = new Write{{}, std::string(data)};
  b = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
  int rc = uv_write(&w->req, s, &b, 1,
                    [](uv_write_t* r, int) { delete reinterpret_cast<Write*>(r); });
  if (rc != 0) {
    delete w;
    return false;
  }
  return true;
}

bool TlsPump::send_ciphertext() {
  scratch_.clear();
  session_->take_output(scratch_);
  return send(reinterpret_cast<uv_stream_t*>(&handles_->tcp), scratch_);
}

void TlsPump::on_tcp_read(uv_stream_t* s, ssize_t n, const uv_buf_t*) {
  auto* h = static_cast<Handles*>(s->data);
  TlsPump* self = h->owner;
  if (self == nullptr || n == 0) return;
  if (n < 0)
    return self->failed(n == UV_EOF ? std::string("L2 closed the connection")
                                    : std::string("L2 connection lost: ") + uv_strerror(static_cast<int>(n)));
  net::TlsSession& tls = *self->session_;
  tls.feed(tls.read_buffer(), static_cast<size_t>(n));
  for (;;) {
    char plain[16 * 1024];
    size_t got = 0;
    auto r = tls.read(plain, sizeof plain, &got);
    if (r == net::TlsSession::ReadResult::kData) {
      if (!h->plain_open || !send(reinterpret_cast<uv_stream_t*>(&h->plain), {plain, got}))
        return self->failed("the L2 sent data the link could not pass on");
      continue;
    }
    if (r == net::TlsSession::ReadResult::kWantMore) break;
    self->send_ciphertext();  // the alert, if any
    if (r == net::TlsSession::ReadResult::kClosed) return self->failed("L2 closed the connection");
    return self->failed((self->ready_ ? "TLS error on the L2 link: "
                                      : "TLS handshake with L2 failed: ") + tls.error());
  }
  if (!self->send_ciphertext()) return self->failed("cannot write to L2");
  if (!self->ready_ && tls.handshake_done()) {
    self->ready_ = true;
    self->events_->on_tls_ready();  // last: may destroy the pump
  }
}

bool TlsPump::attach_plain(int fd, std::string* error) {
  uv_pipe_init(loop_, &handles_->plain, 0);
  handles_->plain.data = handles_;
  handles_->plain_open = true;
  ++handles_->open;
  int rc = uv_pipe_open(&handles_->plain, fd);
  if (rc == 0)
    rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&handles_->plain), on_alloc, on_plain_read);
  if (rc != 0) {
    *error = std::string("cannot pump the TLS link: ") + uv_strerror(rc);
    return false;
  }
  return true;
}

void TlsPump::on_plain_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* h = static_cast<Handles*>(s->data);
  TlsPump* self = h->owner;
  if (self == nullptr || n == 0) return;
  if (n < 0) return self->failed("the link closed its side");
  if (!self->session_->write({buf->base, static_cast<size_t>(n)}))
    return self->failed("TLS error on the L2 link: " + self->session_->error());
  if (!self->send_ciphertext()) return self->failed("cannot write to L2");
}

void TlsPump::failed(const std::string& why) {
  if (done_) return;
  done_ = true;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&handles_->tcp));
  if (handles_->plain_open) uv_read_stop(reinterpret_cast<uv_stream_t*>(&handles_->plain));
  events_->on_tls_failed(why);  // last: may destroy the pump
}

}  // namespace tiercache::sidecar
