// tiercache-l2's side of the connection commands (shared/session/session.h implements them once
// for both servers): how this server authenticates a connection, closes it, resets its
// subscriptions, tracking and watches, and its own CLIENT subcommands (client-side caching).
#pragma once

#include <memory>

#include "shared/session/session.h"

namespace tiercache::l2 {

class Server;

std::unique_ptr<session::Host> make_session_host(Server& server);

}  // namespace tiercache::l2
