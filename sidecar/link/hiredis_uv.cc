// attach_to_loop (see hiredis_uv.h).
#include "sidecar/link/hiredis_uv.h"

#include <cstdlib>

namespace tiercache::sidecar {
namespace {

struct Events {
  redisAsyncContext* context;  // nullptr once hiredis cleaned up (the handle is closing)
  uv_poll_t handle;
  int events;  // what hiredis asked for: UV_READABLE, UV_WRITABLE
};

void on_poll(uv_poll_t* handle, int status, int events) {
  auto* p = static_cast<Events*>(handle->data);
  // An error (POLLERR: libuv has stopped the handle): what the context waits for is ready,
  // and the read or write that follows returns the error to hiredis.
  const int ready = status != 0 ? p->events : events;
  if (p->context != nullptr && (ready & UV_READABLE) != 0) redisAsyncHandleRead(p->context);
  if (p->context != nullptr && (ready & UV_WRITABLE) != 0) redisAsyncHandleWrite(p->context);
  // Still connected after an error (nothing was there to read): watch again.
  if (status != 0 && p->context != nullptr && p->events != 0)
    uv_poll_start(&p->handle, p->events, on_poll);
}

// hiredis's add/del read/write hooks: `event` watched (on) or not from now on.
template <int event, bool on>
void watch(void* data) {
  auto* p = static_cast<Events*>(data);
  p->events = on ? p->events | event : p->events & ~event;
  if (p->events != 0)
    uv_poll_start(&p->handle, p->events, on_poll);
  else
    uv_poll_stop(&p->handle);
}

void cleanup(void* data) {
  auto* p = static_cast<Events*>(data);
  p->context = nullptr;  // hiredis frees the context after this
  uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), [](uv_handle_t* h) { std::free(h->data); });
}

}  // namespace

int attach_to_loop(redisAsyncContext* ac, uv_loop_t* loop) {
  if (ac->ev.data != nullptr) return REDIS_ERR;
  // malloc'd as hiredis's own adapter does: freed by the handle's close callback, which runs
  // after the context (and anything that could own the struct) is gone.
  auto* p = static_cast<Events*>(std::calloc(1, sizeof(Events)));
  if (p == nullptr) return REDIS_ERR;
  if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
    std::free(p);
    return REDIS_ERR;
  }
  p->handle.data = p;
  p->context = ac;
  ac->ev.data = p;
  ac->ev.addRead = watch<UV_READABLE, true>;
  ac->ev.delRead = watch<UV_READABLE, false>;
  ac->ev.addWrite = watch<UV_WRITABLE, true>;
  ac->ev.delWrite = watch<UV_WRITABLE, false>;
  ac->ev.cleanup = cleanup;
  return REDIS_OK;
}

}  // namespace tiercache::sidecar
