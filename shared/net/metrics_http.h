// The operators' metrics endpoint both servers share: a tiny HTTP/1.0 responder on libuv that
// answers GET /metrics with the Prometheus text format (0.0.4), and the conversion of INFO's
// `name:value` lines into that format, so the metrics can never drift from INFO.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "shared/net/listener.h"

namespace tiercache::net {

// Which INFO fields are what. Fields not listed are gauges when their value is a number;
// `*_pNN_us`/`*_pNN_ms` and `*_max_us`/`*_max_ms` fields become quantiles of a summary
// (`<base>_seconds{quantile="0.NN"}`, max as quantile "1"); `dbN:k=v,...` lines become gauges
// `<prefix>_db_<k>{db="N"}`.
struct PrometheusSchema {
  std::string_view prefix;                     // e.g. "tiercache_sidecar"
  std::span<const std::string_view> counters;  // fields that only grow: exported as <name>_total
  std::span<const std::string_view> labels;    // text fields exported as labels of <prefix>_info
  std::span<const std::string_view> skip;      // fields not exported at all
};

// Converts INFO text (sections, `name:value` lines, CRLF or LF) into Prometheus text format.
// Non-numeric fields not listed in `labels` are ignored. Pure function, allocation on return.
std::string info_to_prometheus(std::string_view info, const PrometheusSchema& schema);

// Serves GET /metrics (HEAD too) on one TCP address with what `render(ctx)` returns; any other
// path gets 404, other methods 405, garbage 400. One request per connection (HTTP/1.0,
// `Connection: close`). A request larger than kMaxRequest or not complete within kIdleMs is
// closed without a reply; at most kMaxConnections are open at once (more are closed at
// accept). Runs on the owner's loop, single-threaded.
//
// Ownership: the owner keeps this object alive until its loop has run the close callbacks that
// close() starts (i.e. until uv_run returned); connections are freed in their own close
// callbacks and never touch this object after close().
class MetricsHttp {
 public:
  using RenderFn = std::string (*)(void* ctx);
  static constexpr size_t kMaxRequest = 8192;
  static constexpr uint64_t kIdleMs = 5000;
  static constexpr size_t kMaxConnections = 64;

  MetricsHttp(uv_loop_t* loop, RenderFn render, void* ctx)
      : loop_(loop), render_(render), ctx_(ctx), listener_(loop, on_accept, this) {}
  MetricsHttp(const MetricsHttp&) = delete;
  MetricsHttp& operator=(const MetricsHttp&) = delete;

  // Binds and listens. False with *error (bad address, port in use).
  bool listen(const std::string& bind, int port, std::string* error);
  // The port actually bound, 0 if not listening.
  int port() const;
  // Stops listening and closes every open connection. Idempotent.
  void close();

  uint64_t requests() const { return requests_; }

 private:
  struct Conn;
  static void on_accept(void* ctx, uv_stream_t* listener, bool is_tcp);
  void accept_one(uv_stream_t* listener);
  void unlink(Conn* c);

  uv_loop_t* loop_;
  RenderFn render_;
  void* ctx_;
  Listener listener_;
  Conn* conns_ = nullptr;  // intrusive list of open connections
  size_t conn_count_ = 0;
  uint64_t requests_ = 0;
};

}  // namespace tiercache::net
