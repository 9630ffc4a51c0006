// Signals and the loop's end (see lifecycle.h).
#include "shared/net/lifecycle.h"

#include <csignal>

namespace tiercache::net {

void StopSignals::start(uv_loop_t* loop, StopFn on_stop, void* ctx) {
  on_stop_ = on_stop;
  ctx_ = ctx;
  uv_signal_init(loop, &term_);
  uv_signal_init(loop, &int_);
  term_.data = int_.data = this;
  uv_signal_start(&term_, on_signal, SIGTERM);
  uv_signal_start(&int_, on_signal, SIGINT);
  std::signal(SIGPIPE, SIG_IGN);
  open_ = true;
}

void StopSignals::close() {
  if (!open_) return;
  open_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&term_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&int_), nullptr);
}

void StopSignals::on_signal(uv_signal_t* s, int signum) {
  auto* self = static_cast<StopSignals*>(s->data);
  self->on_stop_(self->ctx_, signum);
}

bool run_until_closed(uv_loop_t* loop) {
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0;
}

}  // namespace tiercache::net
