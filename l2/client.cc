// Per-connection state of tiercache-l2 (see client.h); the I/O is shared/net's Connection.
#include "l2/client.h"

#include "l2/server.h"

namespace tiercache::l2 {

Client::Client(Server* server, net::Connection& conn, Kind kind)
    : session::Session(conn.id()), out(conn.output()), server_(server), kind_(kind), conn_(&conn) {
  authenticated = server->config().requirepass.empty();
  conn.parser().set_authenticated(authenticated);
  created_ms = server->now_ms();
  last_interaction_ms = created_ms;
}

Client::Client(Server* server, uint64_t id_in, Kind kind)
    : session::Session(id_in), out(internal_out_), server_(server), kind_(kind) {
  authenticated = true;
  created_ms = server->now_ms();
  last_interaction_ms = created_ms;
}

void Client::close() {
  if (conn_ != nullptr) {
    conn_->close();  // the server's on_closed detaches and later frees this state
    return;
  }
  if (closed_) return;
  closed_ = true;
  if (kind_ == Kind::kInternal) {
    server_->on_client_closed(this);
    delete this;
  }
}

}  // namespace tiercache::l2
