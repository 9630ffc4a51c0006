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
  bool cluster_mode() const override { return sidecar_.config().l2_mode == "cluster"; }
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
    st.relay_channels.clear();
    st.relay_patterns.clear();
    st.relay_asked = st.relay_received = 0;
    st.relay_local.clear();
  }

  bool watch(session::Session& s, std::span<const std::string_view> keys,
             std::string& out) override {
    net::Connection* c = sidecar_.connection(s.id);
    if (c == nullptr) return false;
    std::vector<std::string_view> args;
    args.reserve(keys.size() + 1);
    args.push_back("WATCH");
    args.insert(args.end(), keys.begin(), keys.end());
    return sidecar_.watch(*c, state_of(s), args, out);
  }

  void unwatch(session::Session& s) override { sidecar_.unwatch(state_of(s)); }

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
