// The sidecar's side of the connection commands (see session_host.h): each method applies
// shared/session's decision to a ClientState and its connection.
#include "sidecar/session_host.h"

#include <algorithm>

#include "shared/resp/reply_writer.h"
#include "sidecar/clock.h"
#include "sidecar/sidecar.h"
#include "sidecar/state.h"

namespace tiercache::sidecar {
namespace {

ClientState& state_of(session::Session& s) { return static_cast<ClientState&>(s); }
const ClientState& state_of(const session::Session& s) {
  return static_cast<const ClientState&>(s);
}

class SessionHost final : public session::Host {
 public:
  explicit SessionHost(Sidecar& sidecar) : sidecar_(sidecar) {}

  std::string_view server_name() const override { return "tiercache-sidecar"; }
  const command::CommandTable& commands() const override { return sidecar_.commands(); }
  int databases() const override { return sidecar_.config().databases; }
  std::string_view requirepass() const override { return sidecar_.config().requirepass; }
  int64_t now_ms() const override { return static_cast<int64_t>(wall_us() / 1000); }

  void set_authenticated(session::Session& s, bool yes) override {
    s.authenticated = yes;
    if (net::Connection* c = sidecar_.connection(s.id)) c->parser().set_authenticated(yes);
  }

  bool subscribed(const session::Session& s) const override {
    return state_of(s).subscriptions > 0;
  }

  void close_after_reply(session::Session& s) override {
    if (net::Connection* c = sidecar_.connection(s.id)) c->close_after_reply();
  }

  void close(session::Session& s) override {
    if (net::Connection* c = sidecar_.connection(s.id)) c->close();
  }

  void reset(session::Session& s) override {  // stops the client's pub/sub relay
    ClientState& st = state_of(s);
    if (st.pubsub) {
      st.pubsub->stop();
      st.pubsub.reset();
    }
    st.pubsub_waiting.clear();
    st.subscriptions = 0;
  }

  bool watch(session::Session&, std::span<const std::string_view>, std::string& out) override {
    resp::write_error(out,
                      "ERR WATCH is not supported through tiercache-sidecar (it needs a "
                      "connection of its own to L2); use MULTI/EXEC or a Lua script");
    return false;
  }

  void unwatch(session::Session&) override {}  // nothing is ever watched

  session::ClientFigures figures(const session::Session& s) const override {
    session::ClientFigures f;
    f.sub = static_cast<size_t>(state_of(s).subscriptions);
    if (net::Connection* c = sidecar_.connection(s.id)) {
      f.qbuf = c->input_bytes();
      f.omem = c->output_bytes();
      f.tot_mem = c->buffer_capacity() + sizeof(ClientState);
    }
    return f;
  }

  void for_each_client(const std::function<void(session::Session&)>& f) override {
    std::vector<ClientState*> all;
    for (const auto& [id, c] : sidecar_.connections())
      if (c->user != nullptr && !c->closing()) all.push_back(static_cast<ClientState*>(c->user));
    std::sort(all.begin(), all.end(),
              [](const ClientState* a, const ClientState* b) { return a->id < b->id; });
    for (ClientState* st : all) f(*st);
  }

 private:
  Sidecar& sidecar_;
};

}  // namespace

std::unique_ptr<session::Host> make_session_host(Sidecar& sidecar) {
  return std::make_unique<SessionHost>(sidecar);
}

}  // namespace tiercache::sidecar
