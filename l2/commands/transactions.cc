// MULTI/EXEC/DISCARD and optimistic locking with WATCH/UNWATCH.
#include "l2/commands/common.h"

namespace tiercache::l2 {
namespace {

using namespace cmd;

void multi(CommandContext& ctx) {
  if (ctx.client.in_multi) return error(ctx, "ERR MULTI calls can not be nested");
  ctx.client.in_multi = true;
  ctx.client.multi_dirty = false;
  ctx.client.multi_queue.clear();
  resp::write_ok(ctx.out);
}

void discard(CommandContext& ctx) {
  Client& c = ctx.client;
  if (!c.in_multi) return error(ctx, "ERR DISCARD without MULTI");
  c.in_multi = false;
  c.multi_dirty = false;
  c.multi_queue.clear();
  ctx.server.unwatch_all(&c);
  resp::write_ok(ctx.out);
}

void exec(CommandContext& ctx) {
  Client& c = ctx.client;
  if (!c.in_multi) return error(ctx, "ERR EXEC without MULTI");
  std::vector<std::vector<std::string>> queue;
  queue.swap(c.multi_queue);
  c.in_multi = false;
  bool dirty = c.multi_dirty, watch_dirty = c.watch_dirty;
  c.multi_dirty = false;
  ctx.server.unwatch_all(&c);
  if (dirty) return error(ctx, "EXECABORT Transaction discarded because of previous errors.");
  if (watch_dirty) return resp::write_null_array(ctx.out);
  resp::write_array_header(ctx.out, static_cast<int64_t>(queue.size()));
  std::vector<std::string_view> args;
  for (const auto& command : queue) {
    args.assign(command.begin(), command.end());
    ctx.server.execute(c, args);
  }
}

void watch(CommandContext& ctx) {
  if (ctx.client.in_multi) return error(ctx, "ERR WATCH inside MULTI is not allowed");
  for (size_t i = 1; i < ctx.args.size(); ++i)
    ctx.server.watch_key(&ctx.client, ctx.client.db, ctx.args[i]);
  resp::write_ok(ctx.out);
}

void unwatch(CommandContext& ctx) {
  ctx.server.unwatch_all(&ctx.client);
  resp::write_ok(ctx.out);
}

}  // namespace

void register_transaction_commands(HandlerRegistry& r) {
  r.add("multi", multi);
  r.add("exec", exec);
  r.add("discard", discard);
  r.add("watch", watch);
  r.add("unwatch", unwatch);
}

}  // namespace tiercache::l2
