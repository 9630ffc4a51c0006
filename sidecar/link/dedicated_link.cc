// HiredisDedicatedLink (see dedicated_link.h).
#include "sidecar/link/dedicated_link.h"

namespace tiercache::sidecar {
namespace {

LinkOptions dedicated(LinkOptions o) {
  o.one_shot = true;
  o.request_timeout_ms = kNoRequestTimeout;
  return o;
}

}  // namespace

HiredisDedicatedLink::HiredisDedicatedLink(uv_loop_t* loop, LinkOptions options,
                                           std::string name)
    : link_(loop, dedicated(std::move(options)), std::move(name), on_state, this) {}

HiredisDedicatedLink::~HiredisDedicatedLink() { stop(); }

void HiredisDedicatedLink::stop() {
  lost_ = true;
  link_.stop();  // fails what is in flight
  std::deque<std::pair<std::string, std::unique_ptr<Completion>>> waiting;
  waiting.swap(waiting_);
  for (auto& [resp, done] : waiting)
    if (done) done->on_reply(nullptr);
}

void HiredisDedicatedLink::on_state(void* ctx, bool connected) {
  auto* self = static_cast<HiredisDedicatedLink*>(ctx);
  if (!connected) return self->stop();  // one-shot: the link has stopped itself
  std::deque<std::pair<std::string, std::unique_ptr<Completion>>> waiting;
  waiting.swap(self->waiting_);
  for (auto& [resp, done] : waiting) self->link_.send_formatted(resp, std::move(done));
}

bool HiredisDedicatedLink::send(std::span<const std::string_view> args,
                                std::unique_ptr<Completion> done) {
  format_command(scratch_, args);
  return send_formatted(scratch_, std::move(done));
}

bool HiredisDedicatedLink::send_formatted(std::string_view resp,
                                          std::unique_ptr<Completion> done) {
  if (lost_) {
    if (done) done->on_reply(nullptr);
    return false;
  }
  if (want_db_ != db_) {
    std::string db = std::to_string(want_db_);
    std::string_view select[] = {"SELECT", db};
    std::string wire;
    format_command(wire, select);
    db_ = want_db_;
    pass(wire, nullptr);
  }
  return pass(resp, std::move(done));
}

bool HiredisDedicatedLink::pass(std::string_view resp,
                                std::unique_ptr<Completion> done) {
  if (link_.connected()) return link_.send_formatted(resp, std::move(done));
  waiting_.emplace_back(std::string(resp), std::move(done));
  return true;
}

}  // namespace tiercache::sidecar
