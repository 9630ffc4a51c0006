// What both servers do around their event loop: SIGTERM and SIGINT start a clean shutdown,
// SIGPIPE is ignored (a peer that went away is an error on its connection), and the loop runs
// until every handle is closed.
#pragma once

#include <uv.h>

namespace tiercache::net {

class StopSignals {
 public:
  using StopFn = void (*)(void* ctx, int signum);

  // Watches SIGTERM and SIGINT on `loop` and calls on_stop(ctx, signum) for each; ignores
  // SIGPIPE for the process.
  void start(uv_loop_t* loop, StopFn on_stop, void* ctx);
  // Stops watching (the loop can then end). Idempotent.
  void close();

 private:
  static void on_signal(uv_signal_t* s, int signum);

  uv_signal_t term_, int_;
  StopFn on_stop_ = nullptr;
  void* ctx_ = nullptr;
  bool open_ = false;
};

// Runs `loop` until no handle is active, then closes it. False if handles were left open.
bool run_until_closed(uv_loop_t* loop);

}  // namespace tiercache::net
