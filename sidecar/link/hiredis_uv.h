// The libuv event hooks of a hiredis 0.14 async context: hiredis's own adapter
// (hiredis/adapters/libuv.h) with one fault fixed.
//
// libuv stops a uv_poll_t whose descriptor reports POLLERR (a TCP reset: the L2 killed with
// a request unread, a proxy or load balancer resetting a connection) and calls it with
// UV_EBADF. hiredis 0.14's adapter returns on any error status, so the context never read the
// error: it stayed "connected", every request sent on it waited for the request timeout
// (l2-timeout-ms), and an idle connection stayed dead until then. Here an error status is
// handled as readiness for what the context waits for, so hiredis reads the error and
// disconnects at once (hiredis 1.x's adapter does the same).
#pragma once

#include <hiredis/async.h>
#include <uv.h>

namespace tiercache::sidecar {

// Attaches `ac` to `loop`; REDIS_OK or REDIS_ERR (as redisLibuvAttach).
int attach_to_loop(redisAsyncContext* ac, uv_loop_t* loop);

}  // namespace tiercache::sidecar
