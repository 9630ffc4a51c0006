// Unit tests of the hiredis event hooks (sidecar/link/hiredis_uv.h) on a real loop over real
// loopback sockets, this process at both ends: a connection the peer resets (TCP RST) is seen
// lost at once, idle or with a request in flight. With hiredis 0.14's own libuv adapter,
// neither is ever seen: libuv stops the poll handle on the error and the adapter ignores it.
#include "sidecar/link/hiredis_uv.h"

#include <doctest/doctest.h>
#include <hiredis/async.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <string>

namespace tiercache::sidecar {
namespace {

struct Peer {  // the "L2": a listening socket on 127.0.0.1 and the connection it accepted
  int listener = -1;
  int conn = -1;
  int port = 0;
  Peer() {
    listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(listener, 1) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~Peer() {
    if (conn >= 0) ::close(conn);
    ::close(listener);
  }
  void accept() { conn = ::accept(listener, nullptr, nullptr); }
  void reset() {  // close with a zero linger: the kernel sends RST, not FIN
    linger l{1, 0};
    REQUIRE(::setsockopt(conn, SOL_SOCKET, SO_LINGER, &l, sizeof l) == 0);
    ::close(conn);
    conn = -1;
  }
};

struct Seen {
  bool connected = false;
  bool disconnected = false;
  int disconnect_status = REDIS_OK;
  int replies = 0;
  int null_replies = 0;
  std::string error;
};

Seen& seen_of(const redisAsyncContext* ac) { return *static_cast<Seen*>(ac->data); }

// Runs the loop until `done` or `ms` of wall time passed (a timer ends the wait).
template <typename Done>
void run_until(uv_loop_t* loop, int ms, Done done) {
  uv_timer_t t;
  uv_timer_init(loop, &t);
  bool expired = false;
  t.data = &expired;
  uv_timer_start(
      &t, [](uv_timer_t* h) { *static_cast<bool*>(h->data) = true; }, static_cast<uint64_t>(ms), 0);
  while (!done() && !expired) uv_run(loop, UV_RUN_ONCE);
  uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);
}

// A connected context on `loop` to `peer` (accepted), with Seen as its data.
redisAsyncContext* connect(uv_loop_t* loop, Peer& peer, Seen& seen) {
  redisAsyncContext* ac = redisAsyncConnect("127.0.0.1", peer.port);
  REQUIRE(ac != nullptr);
  REQUIRE(ac->err == 0);
  ac->data = &seen;
  REQUIRE(attach_to_loop(ac, loop) == REDIS_OK);
  redisAsyncSetConnectCallback(ac, [](const redisAsyncContext* c, int status) {
    seen_of(c).connected = status == REDIS_OK;
  });
  redisAsyncSetDisconnectCallback(ac, [](const redisAsyncContext* c, int status) {
    Seen& s = seen_of(c);
    s.disconnected = true;
    s.disconnect_status = status;
    s.error = c->errstr;
  });
  peer.accept();
  REQUIRE(peer.conn >= 0);
  run_until(loop, 5000, [&] { return seen.connected; });
  REQUIRE(seen.connected);
  return ac;
}

void on_reply(redisAsyncContext* ac, void* reply, void*) {
  Seen& s = seen_of(ac);
  ++s.replies;
  if (reply == nullptr) ++s.null_replies;
}

// A loop and a context connected to a Peer on it. Going out of scope frees a context still
// connected and checks that every handle of the loop was closed.
struct Connected {
  uv_loop_t loop;
  Peer peer;
  Seen seen;
  redisAsyncContext* ac = nullptr;
  Connected() {
    uv_loop_init(&loop);
    ac = connect(&loop, peer, seen);
  }
  ~Connected() {
    if (!seen.disconnected) redisAsyncFree(ac);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);  // every handle closed
  }
};

TEST_CASE("a reset of a connection with a request in flight fails the request at once") {
  Connected c;
  REQUIRE(redisAsyncCommand(c.ac, on_reply, nullptr, "GET k") == REDIS_OK);
  run_until(&c.loop, 200, [] { return false; });  // written; the peer reads nothing
  CHECK(c.seen.replies == 0);
  c.peer.reset();
  // Seen within the loop's next turns; 5 s is only the test's own bound (the unfixed adapter
  // never sees it).
  run_until(&c.loop, 5000, [&] { return c.seen.disconnected; });
  CHECK(c.seen.disconnected);
  CHECK(c.seen.disconnect_status == REDIS_ERR);
  CHECK(c.seen.error == "Connection reset by peer");
  CHECK(c.seen.replies == 1);
  CHECK(c.seen.null_replies == 1);  // the request failed (hiredis frees the context itself)
}

TEST_CASE("a reset of an idle connection is seen at once") {
  Connected c;
  // A request answered first: hiredis watches for reading from then on, as a link does.
  REQUIRE(redisAsyncCommand(c.ac, on_reply, nullptr, "PING") == REDIS_OK);
  char buf[64];
  run_until(&c.loop, 200, [] { return false; });
  REQUIRE(::read(c.peer.conn, buf, sizeof buf) > 0);
  REQUIRE(::write(c.peer.conn, "+PONG\r\n", 7) == 7);
  run_until(&c.loop, 5000, [&] { return c.seen.replies == 1; });
  REQUIRE(c.seen.replies == 1);
  c.peer.reset();  // nothing in flight (a proxy or load balancer dropping an idle connection)
  run_until(&c.loop, 5000, [&] { return c.seen.disconnected; });
  CHECK(c.seen.disconnected);
  CHECK(c.seen.error == "Connection reset by peer");
}

TEST_CASE("a clean close is still an end of stream") {
  Connected c;
  ::close(c.peer.conn);
  c.peer.conn = -1;
  // hiredis watches for reading only once it has written something.
  REQUIRE(redisAsyncCommand(c.ac, on_reply, nullptr, "PING") == REDIS_OK);
  run_until(&c.loop, 5000, [&] { return c.seen.disconnected; });
  CHECK(c.seen.disconnected);
  CHECK(c.seen.null_replies == 1);
}

TEST_CASE("a refused connect fails at once") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    int port;
    {
      Peer gone;  // a port nothing listens on once it is closed
      port = gone.port;
    }
    Seen seen;
    redisAsyncContext* ac = redisAsyncConnect("127.0.0.1", port);
    REQUIRE(ac != nullptr);
    ac->data = &seen;
    REQUIRE(attach_to_loop(ac, &loop) == REDIS_OK);
    redisAsyncSetConnectCallback(ac, [](const redisAsyncContext* c, int status) {
      Seen& s = seen_of(c);
      s.disconnected = status != REDIS_OK;  // hiredis frees the context after this
      s.error = c->errstr;
    });
    run_until(&loop, 5000, [&] { return seen.disconnected; });
    CHECK(seen.disconnected);
    CHECK(seen.error == "Connection refused");
    if (!seen.disconnected) redisAsyncFree(ac);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

}  // namespace
}  // namespace tiercache::sidecar
