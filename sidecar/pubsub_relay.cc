// Client pub/sub through the sidecar: a client's first (P)SUBSCRIBE opens a dedicated L2
// connection in subscribed mode for it (HiredisLink); its confirmations and messages are
// relayed to the client as they come. RESET or closing the client stops it.
//
// hiredis (0.14) tracks subscribed mode itself and aborts the process on a confirmation it
// does not expect: one for a channel it no longer knows once every subscription is gone (a
// client that unsubscribes twice from its last channel, as Celery's result consumer does), and
// it refuses to send (P)UNSUBSCRIBE at all when not subscribed. So the relay knows what it is
// subscribed to once the L2 has run everything sent (relay_channels, relay_patterns), forwards
// only the unsubscriptions of names it holds, and answers the others itself as Redis does
// ([p]unsubscribe, name or nil, count), in order after the confirmations still to come.
#include <algorithm>

#include "shared/resp/reply_writer.h"
#include "sidecar/sidecar.h"
#include "sidecar/state.h"

namespace tiercache::sidecar {
namespace {

int64_t relay_count(const ClientState& st) {
  return static_cast<int64_t>(st.relay_channels.size() + st.relay_patterns.size());
}

// A confirmation written by the sidecar: [kind, name or nil, count].
void local_confirmation(std::string& out, std::string_view kind, const std::string_view* name,
                        int64_t count) {
  resp::write_array_header(out, 3);
  resp::write_bulk(out, kind);
  if (name != nullptr)
    resp::write_bulk(out, *name);
  else
    resp::write_null(out);
  resp::write_integer(out, count);
}

}  // namespace

void Sidecar::pubsub_command(net::Connection& c, ClientState& st,
                             std::span<const std::string_view> args, bool unsubscribe) {
  const bool pattern = (args[0][0] | 0x20) == 'p';
  std::set<std::string>& held = pattern ? st.relay_patterns : st.relay_channels;
  const std::string_view kind = pattern ? (unsubscribe ? "punsubscribe" : "psubscribe")
                                        : (unsubscribe ? "unsubscribe" : "subscribe");
  std::vector<std::string_view> send(args.begin(), args.begin() + 1);
  std::string local;  // confirmations the relay answers itself
  size_t expect = 0;  // confirmations the L2 will send
  if (!unsubscribe) {
    for (size_t i = 1; i < args.size(); ++i) {
      held.emplace(args[i]);
      send.push_back(args[i]);
    }
  } else if (args.size() == 1) {  // all of that kind
    if (held.empty())
      local_confirmation(local, kind, nullptr, relay_count(st));
    else
      expect = held.size();  // one per name held
    held.clear();
  } else {
    for (size_t i = 1; i < args.size(); ++i) {
      if (held.erase(std::string(args[i])) == 0) {
        local_confirmation(local, kind, &args[i], 0);  // count fixed below
        continue;
      }
      send.push_back(args[i]);
    }
    if (!local.empty()) {  // the names not held: the count once the others are gone
      local.clear();
      for (size_t i = 1; i < args.size(); ++i)
        if (std::find(send.begin() + 1, send.end(), args[i]) == send.end())
          local_confirmation(local, kind, &args[i], relay_count(st));
    }
  }
  expect += send.size() - 1;
  st.relay_asked += expect;
  if (!local.empty()) {
    if (st.relay_received == st.relay_asked) {
      c.reply().append(local);
      st.subscriptions = relay_count(st);
    } else {
      st.relay_local.emplace_back(st.relay_asked, std::move(local));
    }
  }
  if (expect == 0) return;
  if (!st.pubsub) {
    st.sidecar = this;
    // Callbacks get the client's state; stop() in on_closed silences them before it is freed.
    st.pubsub = std::make_unique<HiredisLink>(
        loop_, link_options(config_, locator_, true, l2_tls_), "pubsub-" + std::to_string(c.id()),
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
          bool confirmation = false;
          if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
              r->element[2]->type == REDIS_REPLY_INTEGER &&
              r->element[0]->type == REDIS_REPLY_STRING) {
            std::string_view kind(r->element[0]->str, r->element[0]->len);
            confirmation = kind.find("subscribe") != std::string_view::npos;
            if (confirmation) s->subscriptions = r->element[2]->integer;
          }
          write_reply(conn->reply(), r);
          if (confirmation) s->relay_received++;
          while (!s->relay_local.empty() && s->relay_local.front().first <= s->relay_received) {
            conn->reply().append(s->relay_local.front().second);
            s->relay_local.pop_front();
            s->subscriptions = relay_count(*s);
          }
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
    st.pubsub->send_push(send);
  else
    st.pubsub_waiting.emplace_back(send.begin(), send.end());
}

}  // namespace tiercache::sidecar
