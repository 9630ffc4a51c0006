// Client pub/sub through the sidecar: a client's first (P)SUBSCRIBE opens a dedicated L2
// connection in subscribed mode for it (HiredisLink); its confirmations and messages are
// relayed to the client as they come. RESET or closing the client stops it.
#include "sidecar/sidecar.h"
#include "sidecar/state.h"

namespace tiercache::sidecar {

void Sidecar::pubsub_command(net::Connection& c, ClientState& st,
                             std::span<const std::string_view> args) {
  if (!st.pubsub) {
    Endpoint ep;
    std::string err;
    parse_endpoint(config_.l2, &ep, &err);
    st.sidecar = this;
    // Callbacks get the client's state; stop() in on_closed silences them before it is freed.
    st.pubsub = std::make_unique<HiredisLink>(
        loop_, link_options(config_, ep, true, l2_tls_), "pubsub-" + std::to_string(c.id()),
        [](void* p, bool connected) {
          auto* s = static_cast<ClientState*>(p);
          net::Connection* conn = s->sidecar->connection(s->id);
          if (conn == nullptr) return;
          if (!connected) {  // the subscription is gone: tell the client by closing
            s->sidecar->close_later(s->id);
            return;
          }
          for (auto& cmd : s->pubsub_waiting) {
            std::vector<std::string_view> v(cmd.begin(), cmd.end());
            s->pubsub->send_push(v);
          }
          s->pubsub_waiting.clear();
        },
        &st);
    st.pubsub->set_push_handler(
        [](void* p, const redisReply* r) {
          auto* s = static_cast<ClientState*>(p);
          net::Connection* conn = s->sidecar->connection(s->id);
          if (conn == nullptr || r == nullptr) return;
          if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
              r->element[2]->type == REDIS_REPLY_INTEGER &&
              r->element[0]->type == REDIS_REPLY_STRING) {
            std::string_view kind(r->element[0]->str, r->element[0]->len);
            if (kind.find("subscribe") != std::string_view::npos)
              s->subscriptions = r->element[2]->integer;
          }
          write_reply(conn->reply(), r);
          conn->flush();
          uint64_t limit = s->sidecar->config().client_output_buffer_limit;
          if (limit != 0 && conn->committed_output_bytes() > limit) {  // a stalled subscriber
            s->sidecar->stats().output_buffer_limit_disconnections++;
            s->sidecar->close_later(s->id);
          }
        },
        &st);
    st.pubsub->start();
  }
  if (st.pubsub->connected())
    st.pubsub->send_push(args);
  else
    st.pubsub_waiting.emplace_back(args.begin(), args.end());
}

}  // namespace tiercache::sidecar
