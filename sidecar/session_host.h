// The sidecar's side of the connection commands (shared/session/session.h implements them once
// for both servers): how it authenticates and closes a client, what RESET stops (the client's
// pub/sub relay), and WATCH, which it refuses: its clients share one L2 connection, where a
// client's WATCH would watch for every client (a WATCH would need a connection of its own).
#pragma once

#include <memory>

#include "shared/session/session.h"

namespace tiercache::sidecar {

class Sidecar;

std::unique_ptr<session::Host> make_session_host(Sidecar& sidecar);

}  // namespace tiercache::sidecar
