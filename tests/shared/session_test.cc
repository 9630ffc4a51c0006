// shared/session over an in-process fake Host: the checks before a command (arity, NOAUTH, the
// table's kNoMulti, subscribed mode), MULTI's queue and EXEC's start, and the connection
// commands' use of the host (AUTH/HELLO authenticate through it, RESET and DISCARD unwatch,
// WATCH inside MULTI never reaches it, QUIT closes after the reply, CLIENT LIST/KILL walk its
// clients). The replies' texts are redis-server 7.0's (the integration suite checks them
// against it).
#include "shared/session/session.h"

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace tiercache;
using session::Command;
using session::Session;

namespace {

struct FakeHost final : session::Host {
  command::CommandTable table;
  std::string password;
  std::map<uint64_t, std::unique_ptr<Session>> clients;
  std::map<uint64_t, int> subs;  // client id -> channels
  std::vector<std::string> log;  // what the commands asked of the host, in order

  Session& add(uint64_t id) {
    auto s = std::make_unique<Session>(id);
    s->authenticated = password.empty();
    Session& ref = *s;
    clients[id] = std::move(s);
    return ref;
  }

  std::string_view server_name() const override { return "fake"; }
  const command::CommandTable& commands() const override { return table; }
  int databases() const override { return 4; }
  std::string_view requirepass() const override { return password; }
  int64_t now_ms() const override { return 10000; }
  void set_authenticated(Session& s, bool yes) override {
    s.authenticated = yes;
    log.push_back("auth " + std::to_string(s.id) + (yes ? " yes" : " no"));
  }
  bool subscribed(const Session& s) const override {
    auto it = subs.find(s.id);
    return it != subs.end() && it->second > 0;
  }
  void close_after_reply(Session& s) override {
    log.push_back("close-after-reply " + std::to_string(s.id));
  }
  void close(Session& s) override { log.push_back("close " + std::to_string(s.id)); }
  void reset(Session& s) override {
    subs.erase(s.id);
    log.push_back("reset " + std::to_string(s.id));
  }
  bool watch(Session& s, std::span<const std::string_view> keys, std::string& out) override {
    log.push_back("watch " + std::to_string(s.id) + " " + std::to_string(keys.size()));
    out += "+OK\r\n";
    return true;
  }
  void unwatch(Session& s) override { log.push_back("unwatch " + std::to_string(s.id)); }
  session::ClientFigures figures(const Session& s) const override {
    session::ClientFigures f;
    auto it = subs.find(s.id);
    f.sub = it == subs.end() ? 0 : static_cast<size_t>(it->second);
    return f;
  }
  void for_each_client(const std::function<void(Session&)>& f) override {
    for (auto& [id, s] : clients) f(*s);
  }
};

// Runs one request as a server's dispatch does: admit, subscribed mode, queue, then the
// connection command (or "+RAN" for any other command). Returns the reply.
std::string request(FakeHost& h, Session& s, std::vector<std::string_view> args) {
  static const session::Commands ids(h.table);
  std::string out;
  const command::CommandSpec* spec = h.table.find(args[0]);
  REQUIRE(spec != nullptr);
  if (!session::admit(h, s, *spec, args, out)) return out;
  if (!session::admit_subscribed(h, s, *spec, h.subscribed(s), out)) return out;
  if (session::queue_in_multi(s, *spec, args, out)) return out;
  Command id = ids.find(*spec);
  if (id == Command::kNone) return "+RAN\r\n";
  session::run(id, h, s, args, out);
  return out;
}

// The first line of a reply.
std::string line(const std::string& reply) { return reply.substr(0, reply.find("\r\n")); }

}  // namespace

TEST_CASE("every connection command of the rows is in the table, the rest are kNone") {
  command::CommandTable t;
  session::Commands ids(t);
  CHECK(ids.find(*t.find("ping")) == Command::kPing);
  CHECK(ids.find(*t.find("unwatch")) == Command::kUnwatch);
  CHECK(ids.find(*t.find("get")) == Command::kNone);
  CHECK(ids.find(*t.find("exec")) == Command::kNone);  // each server runs EXEC itself
}

TEST_CASE("arity, NOAUTH and a refused command inside MULTI make EXEC answer EXECABORT") {
  FakeHost h;
  h.password = "pw";
  Session& s = h.add(1);
  CHECK(line(request(h, s, {"get", "k"})) == "-NOAUTH Authentication required.");
  CHECK(line(request(h, s, {"auth", "pw"})) == "+OK");
  CHECK(line(request(h, s, {"multi"})) == "+OK");
  CHECK(line(request(h, s, {"get"})) == "-ERR wrong number of arguments for 'get' command");
  CHECK(s.multi_dirty);
  CHECK(line(request(h, s, {"set", "k", "v"})) == "+QUEUED");
  std::string out;
  std::vector<std::vector<std::string>> queue;
  CHECK(session::take_transaction(s, &queue, out) == session::ExecStart::kAborted);
  CHECK(line(out) == "-EXECABORT Transaction discarded because of previous errors.");
  CHECK(queue.empty());
  CHECK_FALSE(s.in_multi);
  CHECK_FALSE(s.multi_dirty);
}

TEST_CASE("kNoMulti refuses inside MULTI with Redis's words and marks the transaction") {
  const command::CommandTable table;
  const command::CommandSpec* save = table.find("save");
  REQUIRE(save != nullptr);
  REQUIRE((save->flags & command::kNoMulti) != 0);
  const std::string_view args[] = {"save"};
  FakeHost h;
  Session& s = h.add(1);
  s.authenticated = true;
  std::string out;
  CHECK(session::admit(h, s, *save, args, out));  // outside MULTI: runs
  s.in_multi = true;
  CHECK_FALSE(session::admit(h, s, *save, args, out));
  CHECK(line(out) == "-ERR Command not allowed inside a transaction");
  CHECK(s.multi_dirty);
}

TEST_CASE("a container's subcommand is checked before it runs or is queued, as Redis does") {
  FakeHost h;
  Session& s = h.add(3);
  CHECK(request(h, s, {"multi"}) == "+OK\r\n");
  // CONFIG GET needs a parameter: refused at once with the subcommand's name, not queued
  CHECK(line(request(h, s, {"CONFIG", "GET"})) ==
        "-ERR wrong number of arguments for 'config|get' command");
  CHECK(line(request(h, s, {"config", "nosuch", "x"})) ==
        "-ERR unknown subcommand 'nosuch'. Try CONFIG HELP.");
  CHECK(line(request(h, s, {"Client", "Help", "more"})) ==
        "-ERR wrong number of arguments for 'client|help' command");
  CHECK(s.multi_queue.empty());
  CHECK(s.multi_dirty);
  // a right one is queued; the container alone is the container's own arity error
  CHECK(request(h, s, {"config", "get", "maxmemory"}) == "+QUEUED\r\n");
  CHECK(line(request(h, s, {"object"})) ==
        "-ERR wrong number of arguments for 'object' command");
  CHECK(s.multi_queue.size() == 1);
  CHECK(request(h, s, {"client", "setinfo", "lib-name", "x"}) == "+QUEUED\r\n");  // Redis 7.2's
}

TEST_CASE("inside MULTI: QUIT and RESET run at once, UNWATCH is queued, WATCH is an error") {
  FakeHost h;
  Session& s = h.add(7);
  CHECK(line(request(h, s, {"multi"})) == "+OK");
  CHECK(line(request(h, s, {"multi"})) == "-ERR MULTI calls can not be nested");
  CHECK_FALSE(s.multi_dirty);  // not a refusal: the transaction goes on
  CHECK(line(request(h, s, {"unwatch"})) == "+QUEUED");
  CHECK(line(request(h, s, {"watch", "k"})) == "-ERR WATCH inside MULTI is not allowed");
  CHECK_FALSE(s.multi_dirty);
  CHECK(line(request(h, s, {"select", "9"})) == "+QUEUED");  // checked when EXEC runs it
  CHECK(s.multi_queue.size() == 2);
  CHECK(h.log.empty());  // neither the queued UNWATCH nor the refused WATCH reached the host
  CHECK(line(request(h, s, {"quit"})) == "+OK");
  CHECK(h.log == std::vector<std::string>{"close-after-reply 7"});
  CHECK(line(request(h, s, {"reset"})) == "+RESET");
  CHECK_FALSE(s.in_multi);
  CHECK(s.multi_queue.empty());
  CHECK(h.log ==
        std::vector<std::string>{"close-after-reply 7", "unwatch 7", "reset 7", "auth 7 yes"});
  std::string out;
  std::vector<std::vector<std::string>> queue;
  CHECK(session::take_transaction(s, &queue, out) == session::ExecStart::kNotInMulti);
  CHECK(line(out) == "-ERR EXEC without MULTI");
}

TEST_CASE("DISCARD drops the queue and unwatches; EXEC hands the queue over") {
  FakeHost h;
  Session& s = h.add(2);
  CHECK(line(request(h, s, {"discard"})) == "-ERR DISCARD without MULTI");
  CHECK(line(request(h, s, {"watch", "a", "b"})) == "+OK");
  CHECK(line(request(h, s, {"multi"})) == "+OK");
  CHECK(line(request(h, s, {"set", "a", "1"})) == "+QUEUED");
  CHECK(line(request(h, s, {"discard"})) == "+OK");
  CHECK(h.log == std::vector<std::string>{"watch 2 2", "unwatch 2"});
  CHECK(line(request(h, s, {"multi"})) == "+OK");
  CHECK(line(request(h, s, {"set", "a", "1"})) == "+QUEUED");
  CHECK(line(request(h, s, {"get", "a"})) == "+QUEUED");
  std::string out;
  std::vector<std::vector<std::string>> queue;
  REQUIRE(session::take_transaction(s, &queue, out) == session::ExecStart::kRun);
  CHECK(out.empty());
  REQUIRE(queue.size() == 2);
  CHECK(queue[0] == std::vector<std::string>{"set", "a", "1"});
  CHECK_FALSE(s.in_multi);
}

TEST_CASE("a refused EXEC ends the transaction and unwatches, as Redis's execCommandAbort") {
  FakeHost h;
  Session& s = h.add(4);
  CHECK(line(request(h, s, {"watch", "a"})) == "+OK");
  CHECK(line(request(h, s, {"multi"})) == "+OK");
  CHECK(line(request(h, s, {"set", "a", "1"})) == "+QUEUED");
  CHECK(line(request(h, s, {"exec", "x"})) ==
        "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' "
        "command");
  CHECK_FALSE(s.in_multi);
  CHECK(s.multi_queue.empty());
  CHECK(h.log == std::vector<std::string>{"watch 4 1", "unwatch 4"});
  CHECK(line(request(h, s, {"exec"})) == "+RAN");  // a server's own EXEC: without MULTI now
  s.authenticated = false;
  CHECK(line(request(h, s, {"exec"})) ==
        "-EXECABORT Transaction discarded because of: NOAUTH Authentication required.");
  CHECK(line(request(h, s, {"get", "k"})) == "-NOAUTH Authentication required.");
}

TEST_CASE("subscribed mode: PING answers as an array, other commands are refused") {
  FakeHost h;
  Session& s = h.add(3);
  h.subs[3] = 1;
  CHECK(request(h, s, {"ping"}) == "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
  CHECK(request(h, s, {"ping", "x"}) == "*2\r\n$4\r\npong\r\n$1\r\nx\r\n");
  CHECK(line(request(h, s, {"get", "k"})) ==
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
        "are allowed in this context");
  CHECK(line(request(h, s, {"reset"})) == "+RESET");
  CHECK(request(h, s, {"ping"}) == "+PONG\r\n");
}

TEST_CASE("AUTH and HELLO authenticate through the host; HELLO refuses the unauthenticated") {
  FakeHost h;
  h.password = "pw";
  Session& s = h.add(4);
  CHECK(line(request(h, s, {"hello", "2"})).rfind("-NOAUTH HELLO must be called", 0) == 0);
  CHECK(line(request(h, s, {"auth", "a", "b", "c"})) == "-ERR syntax error");
  CHECK(line(request(h, s, {"auth", "nope"})) ==
        "-WRONGPASS invalid username-password pair or user is disabled.");
  CHECK_FALSE(s.authenticated);
  std::string hello = request(h, s, {"hello", "2", "auth", "default", "pw", "setname", "app"});
  CHECK(line(hello) == "*14");
  CHECK(hello.find("$4\r\nfake\r\n") != std::string::npos);
  CHECK(s.authenticated);
  CHECK(s.name == "app");
  CHECK(h.log == std::vector<std::string>{"auth 4 yes"});
  CHECK(line(request(h, s, {"select", "4"})) == "-ERR DB index is out of range");
  CHECK(line(request(h, s, {"select", "3"})) == "+OK");
  CHECK(s.db == 3);
}

TEST_CASE("CLIENT over the host's clients: SETNAME rules, LIST, KILL") {
  FakeHost h;
  Session& me = h.add(1);
  Session& other = h.add(2);
  other.addr = "10.0.0.2:5000";
  h.subs[2] = 1;
  CHECK(line(request(h, me, {"client", "setname", "a b"})) ==
        "-ERR Client names cannot contain spaces, newlines or special characters.");
  CHECK(line(request(h, me, {"client", "setname", "app"})) == "+OK");
  CHECK(request(h, me, {"client", "getname"}) == "$3\r\napp\r\n");
  CHECK(request(h, me, {"client", "id"}) == ":1\r\n");
  CHECK(line(request(h, me, {"client", "getname", "x"})) ==
        "-ERR wrong number of arguments for 'client|getname' command");
  CHECK(line(request(h, me, {"client", "nosuch"})) ==
        "-ERR unknown subcommand 'nosuch'. Try CLIENT HELP.");
  std::string list = request(h, me, {"client", "list"});
  CHECK(list.find("id=1 addr=? laddr=? fd=-1 name=app age=") != std::string::npos);
  CHECK(list.find("id=2 addr=10.0.0.2:5000") != std::string::npos);
  std::string pubsub = request(h, me, {"client", "list", "type", "pubsub"});
  CHECK(pubsub.find("id=1 ") == std::string::npos);
  CHECK(pubsub.find("id=2 ") != std::string::npos);
  CHECK(pubsub.find("flags=P ") != std::string::npos);
  CHECK(request(h, me, {"client", "kill", "id", "1"}) == ":0\r\n");  // SKIPME yes
  CHECK(line(request(h, me, {"client", "kill", "1.2.3.4:5"})) == "-ERR No such client");
  CHECK(request(h, me, {"client", "kill", "10.0.0.2:5000"}) == "+OK\r\n");
  CHECK(request(h, me, {"client", "kill", "id", "1", "skipme", "no"}) == ":1\r\n");
  CHECK(h.log == std::vector<std::string>{"close 2", "close-after-reply 1"});
}
