// Listening sockets (see listener.h).
#include "shared/net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace tiercache::net {

SocketPathState probe_socket_path(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return SocketPathState::kAbsent;
  if (!S_ISSOCK(st.st_mode)) return SocketPathState::kNotSocket;
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) return SocketPathState::kNotSocket;
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return SocketPathState::kLive;  // cannot tell: be safe
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::close(fd);
  if (rc == 0) return SocketPathState::kLive;
  return err == ECONNREFUSED || err == ENOENT ? SocketPathState::kStale : SocketPathState::kLive;
}

void Listener::on_connection(uv_stream_t* s, int status) {
  auto* self = static_cast<Listener*>(s->data);
  if (status < 0) return;
  self->on_accept_(self->ctx_, s, s == reinterpret_cast<uv_stream_t*>(&self->tcp_));
}

bool Listener::listen_tcp(const std::string& bind, int port, int backlog, std::string* error) {
  sockaddr_storage addr;
  int rc = uv_ip4_addr(bind.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr));
  if (rc != 0) rc = uv_ip6_addr(bind.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr));
  if (rc != 0) {
    *error = "invalid bind address '" + bind + "'";
    return false;
  }
  uv_tcp_init(loop_, &tcp_);
  tcp_.data = this;
  tcp_open_ = true;
  rc = uv_tcp_bind(&tcp_, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&tcp_), backlog, on_connection);
  if (rc != 0) {
    *error = "cannot listen on " + bind + ":" + std::to_string(port) + ": " + uv_strerror(rc);
    return false;
  }
  return true;
}

bool Listener::listen_unix(const std::string& path, int mode, int backlog, std::string* error) {
  switch (probe_socket_path(path)) {
    case SocketPathState::kLive:
      *error = "another process is serving " + path + " (refusing to replace a live socket)";
      return false;
    case SocketPathState::kNotSocket:
      *error = path + " exists and is not a socket (or the path is too long)";
      return false;
    case SocketPathState::kStale:
      unlink(path.c_str());  // left by a dead process
      break;
    case SocketPathState::kAbsent:
      break;
  }
  uv_pipe_init(loop_, &unix_, 0);
  unix_.data = this;
  unix_open_ = true;
  int rc = uv_pipe_bind(&unix_, path.c_str());
  if (rc == 0) {
    unix_path_ = path;
    if (chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) rc = -errno;
  }
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&unix_), backlog, on_connection);
  if (rc != 0) {
    *error = "cannot listen on unix socket " + path + ": " + uv_strerror(rc);
    return false;
  }
  return true;
}

int Listener::tcp_port() const {
  if (!tcp_open_) return 0;
  sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

void Listener::close() {
  if (tcp_open_) uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), nullptr);
  if (unix_open_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&unix_), nullptr);
    if (!unix_path_.empty()) unlink(unix_path_.c_str());
  }
  tcp_open_ = unix_open_ = false;
}

std::string peer_name(uv_tcp_t* tcp, bool local) {
  sockaddr_storage ss;
  int len = sizeof ss;
  int rc = local ? uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&ss), &len)
                 : uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return "?";
  char ip[64] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    uv_ip4_name(a, ip, sizeof ip);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    uv_ip6_name(a, ip, sizeof ip);
    port = ntohs(a->sin6_port);
  }
  return std::string(ip) + ":" + std::to_string(port);
}

}  // namespace tiercache::net
