// OneShotTimer: a libuv timer an owner arms for one deadline at a time (blocked clients'
// earliest deadline, the end of a CLIENT PAUSE). The handle is made on the first start(), so
// an owner whose loop never runs (a fuzz harness) leaves nothing to close; close() hands the
// handle to libuv, which frees it in its close callback, after the owner may be gone.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>

namespace tiercache::net {

class OneShotTimer {
 public:
  using Fn = void (*)(void* ctx);

  OneShotTimer(uv_loop_t* loop, Fn fn, void* ctx) : loop_(loop), fn_(fn), ctx_(ctx) {}
  ~OneShotTimer() { close(); }
  OneShotTimer(const OneShotTimer&) = delete;
  OneShotTimer& operator=(const OneShotTimer&) = delete;

  // Calls fn(ctx) once, delay_ms from now (re-arming replaces the earlier deadline). Does
  // nothing after close().
  void start(uint64_t delay_ms);
  void stop();
  // Stops for good (server shutdown). Idempotent.
  void close();

 private:
  struct Handle {
    uv_timer_t timer;
    OneShotTimer* owner;
  };
  static void on_timer(uv_timer_t* t);

  uv_loop_t* loop_;
  Fn fn_;
  void* ctx_;
  std::unique_ptr<Handle> handle_;  // released to libuv by close()
  bool closed_ = false;
};

}  // namespace tiercache::net
