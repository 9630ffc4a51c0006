// Client connection I/O (see client.h): read buffer management, request parsing, reply writes.
#include "l2/client.h"

#include <cstdlib>
#include <cstring>

#include "l2/server.h"
#include "shared/resp/reply_writer.h"

namespace tiercache::l2 {
namespace {
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kKeepOutputCapacity = 1 << 20;  // shrink larger reply buffers once drained
}  // namespace

Client::Client(Server* server, uint64_t id_in, Kind kind)
    : id(id_in), parser(server->parser_limits()), server_(server), kind_(kind) {
  handle_.tcp.data = this;
  if (kind == Kind::kTcp) {
    uv_tcp_init(server->loop(), &handle_.tcp);
    handle_open_ = true;
  } else if (kind == Kind::kUnix) {
    uv_pipe_init(server->loop(), &handle_.pipe, 0);
    handle_open_ = true;
  }
  handle_.tcp.data = this;
  authenticated = server->config().requirepass.empty();
  parser.set_authenticated(authenticated);
  created_ms = server->now_ms();
  last_interaction_ms = created_ms;
}

Client::~Client() { free(rbuf_); }

void Client::start() { uv_read_start(stream(), on_alloc, on_read); }

void Client::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Client*>(h->data);
  size_t pending = c->rend_ - c->rstart_;
  size_t want = kReadChunk;
  size_t hint = c->parser.frame_size_hint();
  if (hint > pending && hint - pending > want) want = hint - pending;
  if (c->rcap_ - c->rend_ < want) {
    if (c->rstart_ > 0) {
      if (pending > 0) memmove(c->rbuf_, c->rbuf_ + c->rstart_, pending);
      c->rstart_ = 0;
      c->rend_ = pending;
    }
    if (c->rcap_ - c->rend_ < want) {
      size_t cap = c->rcap_ ? c->rcap_ * 2 : kReadChunk;
      if (cap < c->rend_ + want) cap = c->rend_ + want;
      char* n = static_cast<char*>(realloc(c->rbuf_, cap));
      if (n == nullptr) {
        buf->base = nullptr;
        buf->len = 0;
        return;
      }
      c->rbuf_ = n;
      c->rcap_ = cap;
    }
  }
  buf->base = c->rbuf_ + c->rend_;
  buf->len = c->rcap_ - c->rend_;
}

void Client::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  auto* c = static_cast<Client*>(s->data);
  if (nread < 0) {
    c->close();
    return;
  }
  if (nread == 0) return;
  c->rend_ += static_cast<size_t>(nread);
  c->server_->stats().total_net_input_bytes += static_cast<uint64_t>(nread);
  c->process_input();
}

void Client::process_input() {
  server_->update_clock();
  last_interaction_ms = server_->now_ms();
  while (rstart_ < rend_ && !close_after_reply_ && !closing_) {
    size_t consumed = 0;
    resp::ParseStatus st = parser.parse(rbuf_ + rstart_, rend_ - rstart_, &consumed);
    if (st == resp::ParseStatus::kNeedMore) break;
    if (st == resp::ParseStatus::kError) {
      resp::write_error(out, "ERR Protocol error: " + parser.error());
      server_->stats().protocol_errors++;
      server_->stats().total_error_replies++;
      close_after_reply_ = true;
      break;
    }
    auto args = parser.args();
    if (!args.empty()) server_->execute(*this, args);
    rstart_ += consumed;
  }
  if (closing_) return;
  if (rstart_ == rend_) {
    rstart_ = rend_ = 0;
    if (rcap_ > 4 * kReadChunk) {  // give back a buffer grown for one big request
      free(rbuf_);
      rbuf_ = nullptr;
      rcap_ = 0;
    }
  } else if (rend_ - rstart_ > server_->config().client_query_buffer_limit) {
    server_->stats().client_query_buffer_limit_disconnections++;
    close();
    return;
  }
  if (close_after_reply_) uv_read_stop(stream());
  flush();
}

void Client::flush() {
  if (closing_ || write_in_flight_ || kind_ == Kind::kInternal) return;
  if (!out.empty()) {
    uv_buf_t b = uv_buf_init(out.data(), static_cast<unsigned>(out.size()));
    int n = uv_try_write(stream(), &b, 1);
    if (n == UV_EAGAIN) n = 0;
    if (n < 0) {
      close();
      return;
    }
    server_->stats().total_net_output_bytes += static_cast<uint64_t>(n);
    if (static_cast<size_t>(n) < out.size()) {
      writing_.swap(out);
      out.clear();
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
    out.clear();
    if (out.capacity() > kKeepOutputCapacity) out.shrink_to_fit();
  }
  if (close_after_reply_) close();
}

void Client::on_write(uv_write_t* req, int status) {
  auto* c = static_cast<Client*>(req->data);
  c->write_in_flight_ = false;
  if (status < 0) {
    c->close();
    return;
  }
  c->server_->stats().total_net_output_bytes += c->writing_.size() - c->writing_offset_;
  c->writing_.clear();
  c->writing_offset_ = 0;
  if (c->writing_.capacity() > kKeepOutputCapacity) c->writing_.shrink_to_fit();
  c->flush();
}

void Client::hold() {
  if (holds_++ == 0 && handle_open_ && !closing_) uv_read_stop(stream());
}

void Client::release() {
  if (--holds_ > 0) return;
  if (close_deferred_) {
    close_deferred_ = false;
    close();
  } else if (handle_open_ && !closing_ && !close_after_reply_) {
    uv_read_start(stream(), on_alloc, on_read);
  }
}

void Client::close() {
  if (closing_) return;
  if (holds_ > 0) {
    close_deferred_ = true;
    return;
  }
  closing_ = true;
  server_->on_client_closed(this);
  if (handle_open_) {
    uv_close(handle(), on_close);
  } else {
    delete this;
  }
}

void Client::on_close(uv_handle_t* h) { delete static_cast<Client*>(h->data); }

}  // namespace tiercache::l2
