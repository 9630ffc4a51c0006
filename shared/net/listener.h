// Listening sockets shared by both servers: TCP, and a Unix socket whose stale file (left by a
// dead process) is replaced safely while a live one is refused.
#pragma once

#include <uv.h>

#include <string>

namespace tiercache::net {

// Calls on_accept(ctx, listener, is_tcp) for every incoming connection. Not thread-safe.
class Listener {
 public:
  using AcceptFn = void (*)(void* ctx, uv_stream_t* listener, bool is_tcp);

  Listener(uv_loop_t* loop, AcceptFn on_accept, void* ctx)
      : loop_(loop), on_accept_(on_accept), ctx_(ctx) {}

  // False with *error on failure (bad address, port in use, ...).
  bool listen_tcp(const std::string& bind, int port, int backlog, std::string* error);
  // Refuses a path where a live process still accepts connections; replaces a stale socket
  // file; refuses a path that exists and is not a socket. chmods the socket to `mode`.
  bool listen_unix(const std::string& path, int mode, int backlog, std::string* error);
  // Closes the listeners (and removes the socket file this listener created).
  void close();
  // The TCP port actually bound (useful with port 0 in tests), 0 if none.
  int tcp_port() const;

 private:
  static void on_connection(uv_stream_t* s, int status);

  uv_loop_t* loop_;
  AcceptFn on_accept_;
  void* ctx_;
  uv_tcp_t tcp_;
  uv_pipe_t unix_;
  bool tcp_open_ = false, unix_open_ = false;
  std::string unix_path_;
};

// An accepted TCP connection's peer (local=false) or local end, "ip:port" as CLIENT LIST shows
// it; "?" when unknown.
std::string peer_name(uv_tcp_t* tcp, bool local);

// What a Unix socket path holds now.
enum class SocketPathState { kAbsent, kStale, kLive, kNotSocket };
SocketPathState probe_socket_path(const std::string& path);

}  // namespace tiercache::net
