// The per-connection state tiercache-l2's commands use: session::Session's (db, auth, name,
// MULTI queue) plus WATCH and subscriptions. The I/O (read buffer, parser, reply stream) is
// shared/net's Connection.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "shared/command/command_table.h"
#include "shared/net/connection.h"
#include "shared/session/session.h"

namespace tiercache::l2 {

class Server;

// Allocated by the server on accept (or for internal callers, without a socket). A socket
// client is freed by the server at the end of the loop iteration in which its connection
// closed, so pointers held during that iteration stay valid. Loop thread only.
class Client : public session::Session {
 public:
  enum class Kind { kTcp, kUnix, kInternal };

  // The state of an accepted connection, which owns the I/O (shared/net). Freed by the server
  // after the connection closed.
  Client(Server* server, net::Connection& conn, Kind kind);
  // An internal client (scripts' redis.call): no socket; replies accumulate in `out`. close()
  // frees it at once.
  Client(Server* server, uint64_t id, Kind kind);
  ~Client() = default;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Writes what is buffered.
  void flush() {
    if (conn_) conn_->flush();
  }
  // Closes the connection now, dropping unsent output. Idempotent. The client stays readable
  // (closing() is true) until the server frees it at the end of the loop iteration.
  void close();
  // Closes once every buffered reply has been written; stops processing input.
  void close_after_reply() {
    if (conn_) conn_->close_after_reply();
  }
  // Pins the client while a long script lets the loop run nested (see net::Connection::hold).
  void hold() {
    if (conn_) conn_->hold();
  }
  void release() {
    if (conn_) conn_->release();
  }
  // A blocking command blocked the client: its next requests wait until resume() (from the
  // loop, see l2/blocking.h). Input is still read, so a peer that goes away is seen.
  void suspend() {
    if (conn_) conn_->suspend();
  }
  void resume() {
    if (conn_) conn_->resume();
  }
  // A pause covers the request being handled: it runs again at resume() (l2/pause.h).
  void postpone() {
    if (conn_) conn_->postpone();
  }
  // Blocked or postponed: runs no request until resumed.
  bool suspended() const { return conn_ && conn_->suspended(); }

  bool closing() const { return closed_ || (conn_ && conn_->closing()); }
  bool closing_after_reply() const { return conn_ && conn_->closing_after_reply(); }
  size_t output_bytes() const { return conn_ ? conn_->committed_output_bytes() : out.size(); }
  size_t input_bytes() const { return conn_ ? conn_->input_bytes() : 0; }
  size_t buffer_capacity() const { return conn_ ? conn_->buffer_capacity() : out.capacity(); }
  Kind kind() const { return kind_; }
  bool subscribed() const { return !channels.empty() || !patterns.empty(); }
  void set_authenticated(bool v) {
    authenticated = v;
    if (conn_) conn_->parser().set_authenticated(v);
  }
  // Called by the server when the connection has closed: the I/O side is gone.
  void detach() {
    conn_ = nullptr;
    closed_ = true;
  }

  // Replies are appended here by command handlers (the connection's output stream: the L2
  // answers every request at once, so replies are in request order by construction).
  std::string& out;

  // Per-connection command state beyond session::Session's (id, db, auth, name, MULTI),
  // owned by the server's command handlers.
  bool watch_dirty = false;  // a watched key changed: EXEC answers nil
  std::vector<std::pair<int, std::string>> watched;
  std::unordered_set<std::string> channels;
  std::unordered_set<std::string> patterns;
  int64_t pubsub_soft_since_ms = 0;  // when the output first passed the pubsub soft limit
  bool pending_write = false;        // queued in the server's flush list
  bool blocked = false;              // waiting in a blocking command (l2/blocking.h)
  // The command this client is executing (set by Server::execute): a script's reads are
  // remembered under the keys its EVAL declared.
  const command::CommandSpec* exec_spec = nullptr;
  std::span<const std::string_view> exec_args;

 private:
  Server* server_;
  Kind kind_;
  net::Connection* conn_ = nullptr;
  std::string internal_out_;
  bool closed_ = false;
};

}  // namespace tiercache::l2
