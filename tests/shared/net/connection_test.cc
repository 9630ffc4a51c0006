// Unit tests of shared/net/connection: deferred replies leave in request order, reading pauses
// at max_deferred and resumes once half have drained, hold() defers close() until release(),
// a postponed request runs again, first, at resume().
#include "shared/net/connection.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <string>
#include <vector>

namespace tiercache::net {
namespace {

// Defers every GET (the test completes them), answers everything else at once.
struct Owner : ConnectionOwner {
  std::vector<std::string> requests;
  std::vector<uint64_t> tickets;
  int closed = 0;
  void on_request(Connection& c, std::span<const std::string_view> args) override {
    requests.emplace_back(args.size() > 1 ? args[1] : args[0]);
    if (args[0] == "GET")
      tickets.push_back(c.defer());
    else
      c.reply() += "+" + std::string(args[0]) + "\r\n";
  }
  void on_closed(Connection&) override { ++closed; }
  void on_protocol_error(Connection&) override {}
  void on_query_buffer_limit(Connection&) override {}
};

void answer(Connection& c, uint64_t ticket, const std::string& text) {
  c.slot(ticket) = "$" + std::to_string(text.size()) + "\r\n" + text + "\r\n";
  c.complete(ticket);
}

TEST_CASE("deferred replies leave in request order, whatever order they complete in") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  Owner owner;
  resp::ParserLimits pl;
  ConnectionLimits limits;
  auto* c = new Connection(&loop, &owner, &pl, &limits, 1, Connection::Kind::kInternal);
  std::string_view get_a[] = {"GET", "a"}, ping[] = {"PING"}, get_b[] = {"GET", "b"};
  owner.on_request(*c, get_a);
  owner.on_request(*c, ping);  // answered at once, but behind a's pending reply
  owner.on_request(*c, get_b);
  CHECK(c->output().empty());
  CHECK(c->deferred_count() == 3);
  answer(*c, owner.tickets[1], "B");
  CHECK(c->output().empty());  // still waiting for a
  answer(*c, owner.tickets[0], "A");
  CHECK(c->output() == "$1\r\nA\r\n+PING\r\n$1\r\nB\r\n");
  CHECK(c->deferred_count() == 0);
  c->close();
  CHECK(owner.closed == 1);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("hold() defers close() until the matching release()") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  Owner owner;
  resp::ParserLimits pl;
  ConnectionLimits limits;
  auto* c = new Connection(&loop, &owner, &pl, &limits, 1, Connection::Kind::kInternal);
  c->hold();
  c->hold();
  c->close();
  CHECK(owner.closed == 0);
  CHECK_FALSE(c->closing());
  c->release();
  CHECK(owner.closed == 0);  // still held once
  c->release();              // the deferred close happens now (and frees c)
  CHECK(owner.closed == 1);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("reading pauses at max_deferred pending replies and resumes when half drained") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  Owner owner;
  resp::ParserLimits pl;
  ConnectionLimits limits;
  limits.max_deferred = 4;
  auto* c = new Connection(&loop, &owner, &pl, &limits, 1, Connection::Kind::kUnix);
  REQUIRE(uv_pipe_open(reinterpret_cast<uv_pipe_t*>(c->stream()), fds[0]) == 0);
  c->start();
  std::string in;
  for (int i = 0; i < 10; ++i) in += "GET k" + std::to_string(i) + "\r\n";
  REQUIRE(write(fds[1], in.data(), in.size()) == static_cast<ssize_t>(in.size()));
  for (int i = 0; i < 10; ++i) uv_run(&loop, UV_RUN_NOWAIT);
  CHECK(owner.requests.size() == 4);  // paused: the rest waits in the read buffer
  answer(*c, owner.tickets[0], "0");
  answer(*c, owner.tickets[1], "1");
  CHECK(owner.requests.size() == 4);  // 2 pending: not below half yet
  answer(*c, owner.tickets[2], "2");  // 1 pending: resumes, buffered requests go on
  CHECK(owner.requests.size() == 7);
  // Answering the rest lets the last requests in (the list grows while it is answered).
  for (size_t i = 3; i < owner.tickets.size(); ++i) answer(*c, owner.tickets[i], "x");
  for (int i = 0; i < 10; ++i) uv_run(&loop, UV_RUN_NOWAIT);
  CHECK(owner.requests.size() == 10);
  CHECK(owner.requests.front() == "k0");
  CHECK(owner.requests.back() == "k9");
  CHECK(c->deferred_count() == 0);
  std::string out(4096, '\0');
  ssize_t n = read(fds[1], out.data(), out.size());
  REQUIRE(n > 0);
  out.resize(static_cast<size_t>(n));
  CHECK(out.rfind("$1\r\n0\r\n$1\r\n1\r\n$1\r\n2\r\n", 0) == 0);  // in request order
  c->close();
  uv_run(&loop, UV_RUN_DEFAULT);
  close(fds[1]);
  CHECK(owner.closed == 1);
  CHECK(uv_loop_close(&loop) == 0);
}

// Postpones every SET while `paused` (as a paused server does), answers everything else.
struct PausingOwner : ConnectionOwner {
  bool paused = true;
  std::vector<std::string> seen;
  void on_request(Connection& c, std::span<const std::string_view> args) override {
    seen.emplace_back(args.size() > 1 ? args[1] : args[0]);
    if (args[0] == "SET" && paused) return c.postpone();
    c.reply() += "+" + std::string(args.size() > 1 ? args[1] : args[0]) + "\r\n";
  }
  void on_closed(Connection&) override {}
  void on_protocol_error(Connection&) override {}
  void on_query_buffer_limit(Connection&) override {}
};

TEST_CASE("a postponed request stays in the buffer and runs again, first, at resume()") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  PausingOwner owner;
  resp::ParserLimits pl;
  ConnectionLimits limits;
  auto* c = new Connection(&loop, &owner, &pl, &limits, 1, Connection::Kind::kUnix);
  REQUIRE(uv_pipe_open(reinterpret_cast<uv_pipe_t*>(c->stream()), fds[0]) == 0);
  c->start();
  std::string in = "GET a\r\nSET b\r\nGET c\r\n";
  REQUIRE(write(fds[1], in.data(), in.size()) == static_cast<ssize_t>(in.size()));
  for (int i = 0; i < 10; ++i) uv_run(&loop, UV_RUN_NOWAIT);
  CHECK(owner.seen == std::vector<std::string>{"a", "b"});  // stopped at b, c not run
  CHECK(c->suspended());
  // More input while postponed is read and kept behind it.
  std::string more = "GET d\r\n";
  REQUIRE(write(fds[1], more.data(), more.size()) == static_cast<ssize_t>(more.size()));
  for (int i = 0; i < 10; ++i) uv_run(&loop, UV_RUN_NOWAIT);
  CHECK(owner.seen.size() == 2);
  owner.paused = false;
  c->resume();
  CHECK(owner.seen == std::vector<std::string>{"a", "b", "b", "c", "d"});
  for (int i = 0; i < 10; ++i) uv_run(&loop, UV_RUN_NOWAIT);
  std::string out(256, '\0');
  ssize_t n = read(fds[1], out.data(), out.size());
  REQUIRE(n > 0);
  out.resize(static_cast<size_t>(n));
  CHECK(out == "+a\r\n+b\r\n+c\r\n+d\r\n");
  c->close();
  uv_run(&loop, UV_RUN_DEFAULT);
  close(fds[1]);
  CHECK(uv_loop_close(&loop) == 0);
}

}  // namespace
}  // namespace tiercache::net
