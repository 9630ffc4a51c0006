// RESP connection I/O (see connection.h).
#include "shared/net/connection.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "shared/resp/reply_writer.h"

namespace tiercache::net {
namespace {
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kKeepCapacity = 1 << 20;  // larger buffers are given back once drained
}  // namespace

Connection::Connection(uv_loop_t* loop, ConnectionOwner* owner,
                       const resp::ParserLimits* parser_limits, const ConnectionLimits* limits,
                       uint64_t id, Kind kind)
    : owner_(owner), limits_(limits), id_(id), kind_(kind), parser_(parser_limits) {
  if (kind == Kind::kTcp) {
    uv_tcp_init(loop, &handle_.tcp);
    handle_open_ = true;
  } else if (kind == Kind::kUnix) {
    uv_pipe_init(loop, &handle_.pipe, 0);
    handle_open_ = true;
  }
  handle_.tcp.data = this;
}

Connection::~Connection() { free(rbuf_); }

void Connection::start() {
  reading_ = true;
  uv_read_start(stream(), on_alloc, on_read);
}

void Connection::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(h->data);
  if (c->tls_) {  // ciphertext: decrypted into the read buffer by on_read
    buf->base = c->tls_->read_buffer();
    buf->len = TlsSession::kBufferSize;
    return;
  }
  size_t pending = c->rend_ - c->rstart_;
  size_t want = kReadChunk;
  size_t hint = c->parser_.frame_size_hint();
  if (hint > pending && hint - pending > want) want = hint - pending;
  if (!c->reserve_input(want)) {
    buf->base = nullptr;
    buf->len = 0;
    return;
  }
  buf->base = c->rbuf_ + c->rend_;
  buf->len = c->rcap_ - c->rend_;
}

bool Connection::reserve_input(size_t want) {
  size_t pending = rend_ - rstart_;
  if (rcap_ - rend_ < want) {
    if (rstart_ > 0) {
      if (pending > 0) memmove(rbuf_, rbuf_ + rstart_, pending);
      rstart_ = 0;
      rend_ = pending;
    }
    if (rcap_ - rend_ < want) {
      size_t cap = rcap_ ? rcap_ * 2 : kReadChunk;
      if (cap < rend_ + want) cap = rend_ + want;
      char* n = static_cast<char*>(realloc(rbuf_, cap));
      if (n == nullptr) return false;
      rbuf_ = n;
      rcap_ = cap;
    }
  }
  return true;
}

bool Connection::decrypt_input(size_t nread) {
  tls_->feed(tls_->read_buffer(), nread);
  for (;;) {
    size_t hint = parser_.frame_size_hint();
    size_t pending = rend_ - rstart_;
    size_t want = hint > pending + kReadChunk ? hint - pending : kReadChunk;
    if (!reserve_input(want)) {
      close();
      return false;
    }
    size_t n = 0;
    TlsSession::ReadResult r = tls_->read(rbuf_ + rend_, rcap_ - rend_, &n);
    if (r == TlsSession::ReadResult::kData) {
      rend_ += n;
      continue;
    }
    if (r == TlsSession::ReadResult::kWantMore) return true;
    // A failed handshake (or the peer's close_notify): send the alert OpenSSL made, so the peer
    // learns why (unknown CA, no certificate...), then close.
    std::string alert;
    tls_->take_output(alert);
    if (!alert.empty()) {
      uv_buf_t b = uv_buf_init(alert.data(), static_cast<unsigned>(alert.size()));
      uv_try_write(stream(), &b, 1);
    }
    close();
    return false;
  }
}

void Connection::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  auto* c = static_cast<Connection*>(s->data);
  if (nread < 0) {
    c->close();
    return;
  }
  if (nread == 0) return;
  if (c->limits_->counters) c->limits_->counters->bytes_in += static_cast<uint64_t>(nread);
  if (c->tls_) {
    if (!c->decrypt_input(static_cast<size_t>(nread))) return;
  } else {
    c->rend_ += static_cast<size_t>(nread);
  }
  c->process_input();
}

void Connection::process_input() {
  if (in_process_) return;  // re-entered from complete() inside a request: the loop goes on
  in_process_ = true;
  while (rstart_ < rend_ && !close_after_reply_ && !closing_ && !suspended_) {
    if (pending_.size() >= limits_->max_deferred) {
      paused_ = true;  // resumed by complete() once the head drains
      break;
    }
    size_t consumed = 0;
    resp::ParseStatus st = parser_.parse(rbuf_ + rstart_, rend_ - rstart_, &consumed);
    if (st == resp::ParseStatus::kNeedMore) break;
    if (st == resp::ParseStatus::kError) {
      resp::write_error(reply(), "ERR Protocol error: " + parser_.error());
      owner_->on_protocol_error(*this);
      close_after_reply_ = true;
      break;
    }
    auto args = parser_.args();
    if (!args.empty()) owner_->on_request(*this, args);
    if (postponed_) {  // it runs again from the same bytes at resume()
      postponed_ = false;
      break;
    }
    rstart_ += consumed;
    if (kind_ != Kind::kInternal && !peer_gone_ && committed_output_bytes() >= next_probe_) {
      if (peer_closed())
        peer_gone_ = true;
      else
        next_probe_ = committed_output_bytes() + kProbeStep;
    }
    // The peer is gone: requests already read still run (as in Redis, which executes the whole
    // query buffer before it sees the end of the stream), but their replies are dropped.
    if (peer_gone_ && pending_.empty()) out_.clear();
  }
  in_process_ = false;
  if (closing_) return;
  if (peer_gone_) {
    close();
    return;
  }
  if (rstart_ == rend_) {
    rstart_ = rend_ = 0;
    if (rcap_ > 4 * kReadChunk) {
      free(rbuf_);
      rbuf_ = nullptr;
      rcap_ = 0;
    }
  } else if (rend_ - rstart_ > limits_->query_buffer_limit) {
    owner_->on_query_buffer_limit(*this);
    close();
    return;
  }
  if (reading_ && (close_after_reply_ || paused_)) {
    uv_read_stop(stream());
    reading_ = false;
  }
  owner_->on_batch_done(*this);
  if (!closing_ && !limits_->owner_flushes) flush();
}

bool Connection::peer_closed() {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&handle_), &fd) != 0) return false;
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;  // more input waiting: the peer is there
  if (n == 0) return true;  // end of stream (Redis closes a client on it, replies or not)
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;  // reset, or broken
}

std::string& Connection::reply() {
  if (pending_.empty()) return out_;
  pending_.push_back(Slot{{}, true});
  return pending_.back().data;
}

uint64_t Connection::defer() {
  pending_.push_back(Slot{});
  return pending_base_ + pending_.size() - 1;
}

std::string& Connection::slot(uint64_t ticket) { return pending_[ticket - pending_base_].data; }

void Connection::complete(uint64_t ticket) {
  pending_[ticket - pending_base_].done = true;
  drain_completed();
}

void Connection::drain_completed() {
  bool moved = false;
  while (!pending_.empty() && pending_.front().done) {
    if (out_.empty())
      out_.swap(pending_.front().data);
    else
      out_.append(pending_.front().data);
    pending_.pop_front();
    ++pending_base_;
    moved = true;
  }
  if (!moved || closing_) return;
  if (paused_ && pending_.size() < limits_->max_deferred / 2) {
    paused_ = false;
    if (!close_after_reply_ && kind_ != Kind::kInternal) {
      reading_ = true;
      uv_read_start(stream(), on_alloc, on_read);
    }
    process_input();  // requests already buffered
    return;           // process_input flushed
  }
  if (!in_process_) flush();
}

size_t Connection::output_bytes() const {
  size_t n = out_.size() + tls_wire_.size() + (writing_.size() - writing_offset_);
  for (const auto& s : pending_) n += s.data.size();
  return n;
}

std::string* Connection::wire() {
  if (!tls_) return &out_;
  if (!out_.empty()) {
    if (!tls_->write(out_)) return nullptr;
    out_.clear();
    if (out_.capacity() > kKeepCapacity) out_.shrink_to_fit();
  }
  tls_->take_output(tls_wire_);
  return &tls_wire_;
}

void Connection::flush() {
  if (closing_ || write_in_flight_ || kind_ == Kind::kInternal) return;
  std::string* w = wire();
  if (w == nullptr) {  // TLS failed
    close();
    return;
  }
  if (!w->empty()) {
    uv_buf_t b = uv_buf_init(w->data(), static_cast<unsigned>(w->size()));
    int n = uv_try_write(stream(), &b, 1);
    if (n == UV_EAGAIN) n = 0;
    if (n < 0) {
      close();
      return;
    }
    if (limits_->counters) limits_->counters->bytes_out += static_cast<uint64_t>(n);
    if (static_cast<size_t>(n) < w->size()) {
      writing_.swap(*w);
      w->clear();
      writing_offset_ = static_cast<size_t>(n);
      uv_buf_t rest = uv_buf_init(writing_.data() + writing_offset_,
                                  static_cast<unsigned>(writing_.size() - writing_offset_));
      write_req_.data = this;
      if (uv_write(&write_req_, stream(), &rest, 1, on_write) != 0) {
        close();
        return;
      }
      write_in_flight_ = true;
      return;
    }
    w->clear();
    if (w->capacity() > kKeepCapacity) w->shrink_to_fit();
  }
  if (close_after_reply_ && pending_.empty()) close();
}

void Connection::on_write(uv_write_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  c->write_in_flight_ = false;
  if (status < 0) {
    c->close();
    return;
  }
  if (c->limits_->counters)
    c->limits_->counters->bytes_out += c->writing_.size() - c->writing_offset_;
  c->writing_.clear();
  c->writing_offset_ = 0;
  if (c->writing_.capacity() > kKeepCapacity) c->writing_.shrink_to_fit();
  c->flush();
}

void Connection::close_after_reply() {
  close_after_reply_ = true;
  if (reading_ && kind_ != Kind::kInternal) {
    uv_read_stop(stream());
    reading_ = false;
  }
}

void Connection::resume() {
  suspended_ = false;
  if (!closing_) process_input();
}

void Connection::hold() {
  if (holds_++ == 0 && reading_) {
    uv_read_stop(stream());
    reading_ = false;
  }
}

void Connection::release() {
  if (--holds_ > 0) return;
  if (close_deferred_) {
    close_deferred_ = false;
    close();
    return;
  }
  if (!reading_ && !closing_ && !close_after_reply_ && !paused_ && handle_open_) {
    reading_ = true;
    uv_read_start(stream(), on_alloc, on_read);
  }
}

void Connection::close() {
  if (closing_) return;
  if (holds_ > 0) {
    close_deferred_ = true;
    return;
  }
  closing_ = true;
  owner_->on_closed(*this);
  if (handle_open_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&handle_), on_close);
  } else {
    delete this;
  }
}

void Connection::on_close(uv_handle_t* h) { delete static_cast<Connection*>(h->data); }

}  // namespace tiercache::net
