// A RESP client connection on libuv, shared by tiercache-l2 and tiercache-sidecar: read buffer,
// incremental request parsing, pipelined replies kept in request order (including replies that
// complete later, through a FIFO of deferred slots), back-pressure and output accounting.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "shared/net/tls.h"
#include "shared/resp/request_parser.h"

namespace tiercache::net {

class Connection;

// Implemented by each server. Called on the loop thread only.
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  // One complete request. `args` are views into the connection's read buffer, valid during
  // the call only. The reply goes to c.reply() now, or to a slot from c.defer() later.
  virtual void on_request(Connection& c, std::span<const std::string_view> args) = 0;
  // The connection is closing: forget it. It is freed after this returns (for sockets, in the
  // libuv close callback; nothing may call into it afterwards).
  virtual void on_closed(Connection& c) = 0;
  // A protocol error closed the input (counted by the owner).
  virtual void on_protocol_error(Connection& c) = 0;
  // Input beyond the query buffer limit: the connection is being closed.
  virtual void on_query_buffer_limit(Connection& c) = 0;
  // Called after a batch of requests was executed, before the replies are written.
  virtual void on_batch_done(Connection& c) {}
};

// Bytes moved by all connections of an owner (INFO's total_net_input/output_bytes).
struct IoCounters {
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
};

struct ConnectionLimits {
  uint64_t query_buffer_limit = 1ull << 30;  // unparsed input bytes
  size_t max_deferred = 4096;      // replies waiting on another tier before reading pauses
  IoCounters* counters = nullptr;  // optional
  // Leave writing to the owner (it flushes before the loop sleeps, as Redis's beforeSleep):
  // every client served in one loop iteration gets its replies at the same point, which keeps
  // the latency tail fair under pipelined load. Otherwise replies are written after each read.
  bool owner_flushes = false;
};

// Lifetime: allocated with new by the owner; freed by itself after close() (socket kinds in
// the libuv close callback, internal ones at once). Not thread-safe.
class Connection {
 public:
  enum class Kind { kTcp, kUnix, kInternal };

  Connection(uv_loop_t* loop, ConnectionOwner* owner, const resp::ParserLimits* parser_limits,
             const ConnectionLimits* limits, uint64_t id, Kind kind);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle_); }
  uv_tcp_t* tcp() { return &handle_.tcp; }
  Kind kind() const { return kind_; }
  uint64_t id() const { return id_; }

  // Starts reading (after the owner accepted the socket into stream()).
  void start();
  // Makes the connection speak TLS (server side) with ctx, which outlives it. Before start().
  void use_tls(const TlsContext& ctx) { tls_ = std::make_unique<TlsSession>(ctx); }
  bool tls() const { return tls_ != nullptr; }
  // Writes the committed replies (uv_try_write, then an async write for the rest).
  void flush();
  // Closes now, dropping unsent output. Idempotent.
  void close();
  // Stops reading; closes once every reply (deferred ones included) has been written.
  void close_after_reply();
  bool closing() const { return closing_; }
  // Pins the connection while a request runs the event loop nested (e.g. a long script lets
  // other clients be served): hold() stops reading (the request's arguments are views into the
  // read buffer, which must not move) and defers close() until the matching release(), which
  // resumes reading or performs the deferred close. Nests.
  void hold();
  void release();
  bool closing_after_reply() const { return close_after_reply_; }
  // Stops executing requests after the current one (a blocking command: Redis's
  // CLIENT_BLOCKED) while input is still read, so that a peer that closes is seen and its
  // requests accumulate (bounded by the query buffer limit). resume() executes what
  // accumulated; the owner calls it from the loop, never inside another request.
  void suspend() { suspended_ = true; }
  void resume();
  bool suspended() const { return suspended_; }
  // As suspend(), and the request being handled is not consumed: resume() runs it again (a
  // paused server postpones it: Redis's BLOCKED_POSTPONE). Call only from on_request.
  void postpone() {
    suspended_ = true;
    postponed_ = true;
  }

  // Where the reply to the request being handled goes: the output stream itself when no
  // earlier reply is still pending, else a new completed slot behind the pending ones.
  std::string& reply();
  // Reserves the next reply position for a reply that completes later. Returns a ticket.
  uint64_t defer();
  // The buffer of a deferred slot, to write the reply into before complete().
  std::string& slot(uint64_t ticket);
  // Marks a deferred slot complete; completed replies at the head move to the output stream.
  void complete(uint64_t ticket);
  size_t deferred_count() const { return pending_.size(); }

  // Bytes of replies not yet written (committed and deferred). O(deferred slots).
  size_t output_bytes() const;
  // Bytes of committed replies not yet written: O(1), for per-request limit checks (deferred
  // slots are bounded by ConnectionLimits::max_deferred).
  size_t committed_output_bytes() const {
    return out_.size() + tls_wire_.size() + (writing_.size() - writing_offset_);
  }
  size_t input_bytes() const { return rend_ - rstart_; }
  size_t buffer_capacity() const { return rcap_ + out_.capacity() + writing_.capacity(); }

  resp::RequestParser& parser() { return parser_; }
  // Internal connections (scripts) read their replies here.
  std::string& output() { return out_; }

  // Owner data (per-connection state of the server using it).
  void* user = nullptr;

 private:
  struct Slot {
    std::string data;
    bool done = false;
  };

  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_close(uv_handle_t* h);
  void process_input();
  void drain_completed();
  // Makes room for `want` more input bytes at rbuf_ + rend_; false when out of memory.
  bool reserve_input(size_t want);
  // TLS: decrypts what arrived into the read buffer; false when the connection was closed.
  bool decrypt_input(size_t nread);
  // The bytes to put on the socket: out_ itself, or (TLS) out_ encrypted into tls_wire_.
  std::string* wire();
  // True if the socket says the peer closed or reset (a non-blocking peek; no data is taken).
  bool peer_closed();

  ConnectionOwner* owner_;
  const ConnectionLimits* limits_;
  uint64_t id_;
  Kind kind_;
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle_;
  resp::RequestParser parser_;
  char* rbuf_ = nullptr;
  size_t rstart_ = 0, rend_ = 0, rcap_ = 0;
  std::string out_;
  std::unique_ptr<TlsSession> tls_;  // null: plain text
  std::string tls_wire_;             // TLS: ciphertext not yet handed to the socket
  std::string writing_;
  size_t writing_offset_ = 0;
  uv_write_t write_req_;
  std::deque<Slot> pending_;
  uint64_t pending_base_ = 0;  // ticket of pending_.front()
  bool write_in_flight_ = false;
  bool closing_ = false;
  bool close_after_reply_ = false;
  bool handle_open_ = false;
  bool reading_ = false;
  bool paused_ = false;
  bool in_process_ = false;
  bool suspended_ = false;
  bool postponed_ = false;  // the request on_request just handled stays in the buffer
  int holds_ = 0;
  bool close_deferred_ = false;
  bool peer_gone_ = false;           // seen closed while a batch ran: replies are dropped
  size_t next_probe_ = kProbeStep;  // committed output size at which the peer is next probed
  // Once this many reply bytes pile up while a batch runs, the socket is asked whether the
  // peer is still there (again after each further step), so that large replies are not built
  // for a client that already closed or reset.
  static constexpr size_t kProbeStep = 1 << 20;
};

}  // namespace tiercache::net
