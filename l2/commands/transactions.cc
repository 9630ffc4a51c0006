// EXEC: runs the queued commands (shared/session decides whether the transaction may run; a
// changed watched key answers nil). MULTI, DISCARD, WATCH and UNWATCH are shared/session's
// (session_host.cc keeps the watched keys).
#include "l2/commands/common.h"

namespace tiercache::l2 {
namespace {

using namespace cmd;

void exec(CommandContext& ctx) {
  Client& c = ctx.client;
  std::vector<std::vector<std::string>> queue;
  const bool watch_dirty = c.watch_dirty;
  session::ExecStart start = session::take_transaction(c, &queue, ctx.out);
  if (start == session::ExecStart::kNotInMulti) {
    ctx.server.stats().total_error_replies++;
    return;
  }
  ctx.server.unwatch_all(&c);
  if (start == session::ExecStart::kAborted) {
    ctx.server.stats().total_error_replies++;
    return;
  }
  if (watch_dirty) return resp::write_null_array(ctx.out);
  resp::write_array_header(ctx.out, static_cast<int64_t>(queue.size()));
  std::vector<std::string_view> args;
  for (const auto& command : queue) {
    args.assign(command.begin(), command.end());
    ctx.server.execute(c, args);
  }
}

}  // namespace

void register_transaction_commands(HandlerRegistry& r) { r.add("exec", exec); }

}  // namespace tiercache::l2
