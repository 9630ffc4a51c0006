// One client connection of tiercache-l2: read buffer, request parser, reply buffer and the
// per-connection state commands use (db, auth, MULTI queue, WATCH, subscriptions).
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "shared/resp/request_parser.h"

namespace tiercache::l2 {

class Server;

// Allocated by the server on accept (or for internal callers, without a socket) and freed only
// in its libuv close callback. All methods run on the loop thread.
class Client {
 public:
  enum class Kind { kTcp, kUnix, kInternal };

  Client(Server* server, uint64_t id, Kind kind);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle_); }
  uv_handle_t* handle() { return reinterpret_cast<uv_handle_t*>(&handle_); }
  uv_tcp_t* tcp() { return &handle_.tcp; }
  uv_pipe_t* pipe() { return &handle_.pipe; }

  // Starts reading; called once the handle is accepted.
  void start();
  // Writes what is buffered (uv_try_write, then an async write for the rest).
  void flush();
  // Closes the connection now, dropping unsent output. Idempotent.
  void close();
  // Closes once every buffered reply has been written; stops processing input.
  void close_after_reply() { close_after_reply_ = true; }
  // Pins the client while a long script lets the loop run nested (its arguments are views into
  // the read buffer): hold() stops reading and defers any close() until the matching release(),
  // which resumes reading (or performs the deferred close).
  void hold();
  void release();

  bool closing() const { return closing_; }
  bool closing_after_reply() const { return close_after_reply_; }
  size_t output_bytes() const { return out.size() + (writing_.size() - writing_offset_); }
  size_t input_bytes() const { return rend_ - rstart_; }
  size_t buffer_capacity() const { return rcap_ + out.capacity() + writing_.capacity(); }
  Kind kind() const { return kind_; }
  bool subscribed() const { return !channels.empty() || !patterns.empty(); }

  // Replies are appended here by command handlers.
  std::string out;

  // Per-connection command state, owned by the server's command handlers.
  const uint64_t id;
  int db = 0;
  bool authenticated = false;
  std::string name;
  std::string addr = "?";
  std::string laddr = "?";
  int64_t created_ms = 0;
  int64_t last_interaction_ms = 0;
  std::string_view last_command = "NULL";  // a command table name (static storage)
  bool in_multi = false;
  bool multi_dirty = false;  // a queued command was rejected: EXEC answers EXECABORT
  bool watch_dirty = false;  // a watched key changed: EXEC answers nil
  std::vector<std::vector<std::string>> multi_queue;
  std::vector<std::pair<int, std::string>> watched;
  std::unordered_set<std::string> channels;
  std::unordered_set<std::string> patterns;
  int64_t pubsub_soft_since_ms = 0;  // when the output first passed the pubsub soft limit
  bool pending_write = false;        // queued in the server's flush list

  resp::RequestParser parser;

 private:
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_close(uv_handle_t* h);
  void process_input();

  Server* server_;
  Kind kind_;
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle_;
  char* rbuf_ = nullptr;
  size_t rstart_ = 0, rend_ = 0, rcap_ = 0;
  std::string writing_;
  size_t writing_offset_ = 0;
  uv_write_t write_req_;
  bool write_in_flight_ = false;
  bool closing_ = false;
  bool close_after_reply_ = false;
  bool handle_open_ = false;
  int holds_ = 0;
  bool close_deferred_ = false;
};

}  // namespace tiercache::l2
