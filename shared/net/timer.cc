// OneShotTimer (see timer.h).
#include "shared/net/timer.h"

namespace tiercache::net {

void OneShotTimer::start(uint64_t delay_ms) {
  if (closed_) return;
  if (handle_ == nullptr) {
    handle_ = std::make_unique<Handle>();
    handle_->owner = this;
    uv_timer_init(loop_, &handle_->timer);
    handle_->timer.data = handle_.get();
  }
  uv_timer_start(&handle_->timer, on_timer, delay_ms, 0);
}

void OneShotTimer::stop() {
  if (handle_ != nullptr) uv_timer_stop(&handle_->timer);
}

void OneShotTimer::close() {
  closed_ = true;
  if (handle_ == nullptr) return;
  uv_timer_stop(&handle_->timer);
  Handle* h = handle_.release();
  uv_close(reinterpret_cast<uv_handle_t*>(&h->timer),
           [](uv_handle_t* t) { delete static_cast<Handle*>(t->data); });
}

void OneShotTimer::on_timer(uv_timer_t* t) {
  OneShotTimer* self = static_cast<Handle*>(t->data)->owner;
  self->fn_(self->ctx_);
}

}  // namespace tiercache::net
