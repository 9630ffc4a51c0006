// The metrics endpoint and the INFO to Prometheus conversion (see metrics_http.h).
#include "shared/net/metrics_http.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>
#include <vector>

namespace tiercache::net {
namespace {

bool contains(std::span<const std::string_view> list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

bool parse_number(std::string_view v, double* out) {
  if (v.empty() || v.size() > 64) return false;
  char buf[72];
  v.copy(buf, v.size());
  buf[v.size()] = '\0';
  char* end = nullptr;
  double d = strtod(buf, &end);
  if (end != buf + v.size() || !std::isfinite(d)) return false;
  *out = d;
  return true;
}

std::string metric_name(std::string_view s) {
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back(isalnum(u) ? static_cast<char>(tolower(u)) : '_');
  }
  return out;
}

std::string escape_label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// "invalidation_lag_p99_us" -> base "invalidation_lag", quantile "0.99", scale 1e-6.
bool split_quantile(std::string_view name, std::string* base, std::string* q, double* scale) {
  std::string_view stem;
  if (ends_with(name, "_us")) {
    *scale = 1e-6;
  } else if (ends_with(name, "_ms")) {
    *scale = 1e-3;
  } else {
    return false;
  }
  stem = name.substr(0, name.size() - 3);
  if (ends_with(stem, "_max")) {
    *base = std::string(stem.substr(0, stem.size() - 4));
    *q = "1";
    return true;
  }
  size_t p = stem.rfind("_p");
  if (p == std::string_view::npos || p + 2 >= stem.size()) return false;
  std::string_view digits = stem.substr(p + 2);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  std::string frac(digits);
  while (frac.size() > 1 && frac.back() == '0') frac.pop_back();
  *base = std::string(stem.substr(0, p));
  *q = "0." + frac;
  return true;
}

struct Family {
  std::string name, type, help, samples;
};

class Families {
 public:
  Family& get(const std::string& name, const char* type, const std::string& help) {
    auto it = index_.find(name);
    if (it != index_.end()) return all_[it->second];
    index_.emplace(name, all_.size());
    all_.push_back(Family{name, type, help, {}});
    return all_.back();
  }
  std::string render() const {
    std::string out;
    for (const Family& f : all_) {
      out += "# HELP " + f.name + " " + f.help + "\n";
      out += "# TYPE " + f.name + " " + f.type + "\n";
      out += f.samples;
    }
    return out;
  }

 private:
  std::vector<Family> all_;
  std::unordered_map<std::string, size_t> index_;
};

void add_db_line(Families& fams, const std::string& prefix, std::string_view name,
                 std::string_view value) {
  std::string db(name.substr(2));
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view part = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    size_t eq = part.find('=');
    double d;
    if (eq == std::string_view::npos || !parse_number(part.substr(eq + 1), &d)) continue;
    std::string k = metric_name(part.substr(0, eq));
    Family& f = fams.get(prefix + "_db_" + k, "gauge", "INFO keyspace: " + k + " per database");
    f.samples += f.name + "{db=\"" + db + "\"} " + std::string(part.substr(eq + 1)) + "\n";
  }
}

}  // namespace

std::string info_to_prometheus(std::string_view info, const PrometheusSchema& schema) {
  const std::string prefix(schema.prefix);
  Families fams;
  std::string labels;
  while (!info.empty()) {
    size_t nl = info.find('\n');
    std::string_view line = info.substr(0, nl);
    info = nl == std::string_view::npos ? std::string_view() : info.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    std::string_view name = line.substr(0, colon), value = line.substr(colon + 1);
    if (contains(schema.skip, name)) continue;
    if (contains(schema.labels, name)) {
      if (!labels.empty()) labels += ',';
      labels += metric_name(name) + "=\"" + escape_label(value) + "\"";
      continue;
    }
    if (name.size() > 2 && name.substr(0, 2) == "db" &&
        std::all_of(name.begin() + 2, name.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        value.find('=') != std::string_view::npos) {
      add_db_line(fams, prefix, name, value);
      continue;
    }
    double d;
    if (!parse_number(value, &d)) continue;
    std::string base, q;
    double scale = 1;
    if (split_quantile(name, &base, &q, &scale)) {
      Family& f = fams.get(prefix + "_" + metric_name(base) + "_seconds", "summary",
                           "INFO fields " + base + "_p*/_max (quantiles in seconds)");
      char num[64];
      snprintf(num, sizeof num, "%.9g", d * scale);
      f.samples += f.name + "{quantile=\"" + q + "\"} " + num + "\n";
      continue;
    }
    if (contains(schema.counters, name)) {
      std::string_view stem = name;
      if (stem.substr(0, 6) == "total_") stem.remove_prefix(6);
      Family& f = fams.get(prefix + "_" + metric_name(stem) + "_total", "counter",
                           "INFO field " + std::string(name));
      f.samples += f.name + " " + std::string(value) + "\n";
      continue;
    }
    // Redis's "*_time_sec" fields (rdb_last_bgsave_time_sec): Prometheus spells the unit out.
    const std::string gauge = ends_with(name, "_sec")
                                  ? metric_name(name.substr(0, name.size() - 4)) + "_seconds"
                                  : metric_name(name);
    Family& f = fams.get(prefix + "_" + gauge, "gauge", "INFO field " + std::string(name));
    f.samples += f.name + " " + std::string(value) + "\n";
  }
  if (!labels.empty()) {
    Family& f = fams.get(prefix + "_info", "gauge", "build and role, as labels (always 1)");
    f.samples += f.name + "{" + labels + "} 1\n";
  }
  return fams.render();
}

// ---------------------------------------------------------------------------------------------

struct MetricsHttp::Conn {
  MetricsHttp* owner;  // nullptr once the owner has let go of it
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t write_req;
  uv_shutdown_t shutdown_req;
  std::string in, out;
  char rbuf[2048];
  Conn *prev = nullptr, *next = nullptr;
  int open_handles = 2;
  bool closing = false;

  explicit Conn(MetricsHttp* o) : owner(o) {
    uv_tcp_init(o->loop_, &tcp);
    uv_timer_init(o->loop_, &timer);
    tcp.data = timer.data = this;
  }

  static void on_closed(uv_handle_t* h) {
    auto* c = static_cast<Conn*>(h->data);
    if (--c->open_handles == 0) delete c;
  }

  void close() {
    if (closing) return;
    closing = true;
    if (owner != nullptr) owner->unlink(this);
    owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), on_closed);
  }

  static void on_timeout(uv_timer_t* t) { static_cast<Conn*>(t->data)->close(); }

  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* c = static_cast<Conn*>(h->data);
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
  }

  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t*) {
    auto* c = static_cast<Conn*>(s->data);
    if (n < 0) return c->close();
    if (n == 0 || c->closing) return;
    c->in.append(c->rbuf, static_cast<size_t>(n));
    size_t end = c->in.find("\r\n\r\n");
    if (end == std::string::npos) end = c->in.find("\n\n");
    if (end == std::string::npos) {
      if (c->in.size() > kMaxRequest) c->close();  // too large: no reply
      return;
    }
    if (end > kMaxRequest) return c->close();
    uv_read_stop(s);
    c->respond();
  }

  void respond() {
    size_t eol = in.find('\n');
    std::string_view line(in.data(), eol);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t sp1 = line.find(' ');
    size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    std::string_view method, target, version;
    if (sp2 != std::string_view::npos) {
      method = line.substr(0, sp1);
      target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      version = line.substr(sp2 + 1);
    }
    std::string status = "400 Bad Request", type = "text/plain; charset=utf-8", body, extra;
    if (version.substr(0, 5) != "HTTP/" || target.empty() || target[0] != '/') {
      body = "bad request\n";
    } else if (method != "GET" && method != "HEAD") {
      status = "405 Method Not Allowed";
      extra = "Allow: GET, HEAD\r\n";
      body = "method not allowed\n";
    } else if (target.substr(0, target.find('?')) != "/metrics") {
      status = "404 Not Found";
      body = "not found: the metrics are at /metrics\n";
    } else {
      status = "200 OK";
      type = "text/plain; version=0.0.4; charset=utf-8";
      if (owner != nullptr) {
        owner->requests_++;
        body = owner->render_(owner->ctx_);
      }
    }
    out = "HTTP/1.0 " + status + "\r\nContent-Type: " + type +
          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
          "Connection: close\r\n\r\n";
    if (method != "HEAD") out += body;
    uv_buf_t buf = uv_buf_init(out.data(), static_cast<unsigned>(out.size()));
    write_req.data = this;
    if (uv_write(&write_req, reinterpret_cast<uv_stream_t*>(&tcp), &buf, 1, on_written) != 0)
      close();
  }

  static void on_written(uv_write_t* w, int status) {
    auto* c = static_cast<Conn*>(w->data);
    if (status != 0 || c->closing) return c->close();
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, reinterpret_cast<uv_stream_t*>(&c->tcp), on_shutdown) != 0)
      c->close();
  }

  static void on_shutdown(uv_shutdown_t* r, int) { static_cast<Conn*>(r->data)->close(); }
};

bool MetricsHttp::listen(const std::string& bind, int port, std::string* error) {
  if (listener_.listen_tcp(bind, port, 64, error)) return true;
  *error = "metrics endpoint: " + *error;
  return false;
}

int MetricsHttp::port() const { return listener_.tcp_port(); }

void MetricsHttp::on_accept(void* ctx, uv_stream_t* listener, bool) {
  static_cast<MetricsHttp*>(ctx)->accept_one(listener);
}

void MetricsHttp::accept_one(uv_stream_t* listener) {
  auto* c = new Conn(this);
  c->next = conns_;
  if (conns_ != nullptr) conns_->prev = c;
  conns_ = c;
  conn_count_++;
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0 ||
      conn_count_ > kMaxConnections) {
    c->close();
    return;
  }
  uv_timer_start(&c->timer, Conn::on_timeout, kIdleMs, 0);
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), Conn::on_alloc, Conn::on_read) != 0)
    c->close();
}

void MetricsHttp::unlink(Conn* c) {
  if (c->prev != nullptr) c->prev->next = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
  if (conns_ == c) conns_ = c->next;
  c->prev = c->next = nullptr;
  conn_count_--;
}

void MetricsHttp::close() {
  listener_.close();
  while (conns_ != nullptr) conns_->close();  // close() unlinks it
}

}  // namespace tiercache::net
