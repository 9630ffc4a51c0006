// Pub/sub commands: PUBLISH, (P)SUBSCRIBE, (P)UNSUBSCRIBE, PUBSUB.
#include <algorithm>

#include "l2/commands/common.h"

namespace tiercache::l2 {
namespace {

using namespace cmd;

int64_t subscription_count(const Client& c) {
  return static_cast<int64_t>(c.channels.size() + c.patterns.size());
}

void write_ack(std::string& out, std::string_view kind, std::string_view name, bool null_name,
               int64_t count) {
  resp::write_array_header(out, 3);
  resp::write_bulk(out, kind);
  if (null_name)
    resp::write_null(out);
  else
    resp::write_bulk(out, name);
  resp::write_integer(out, count);
}

void publish(CommandContext& ctx) {
  resp::write_integer(ctx.out, static_cast<int64_t>(ctx.server.publish(ctx.args[1], ctx.args[2])));
}

void subscribe_generic(CommandContext& ctx, bool pattern) {
  if (ctx.client.in_multi) {
    // Redis refuses (P)SUBSCRIBE inside MULTI in RESP2 as well.
    return error(ctx, std::string("ERR Command not allowed inside a transaction"));
  }
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    ctx.server.subscribe(&ctx.client, ctx.args[i], pattern);
    write_ack(ctx.out, pattern ? "psubscribe" : "subscribe", ctx.args[i], false,
              subscription_count(ctx.client));
  }
}

void unsubscribe_generic(CommandContext& ctx, bool pattern) {
  Client& c = ctx.client;
  auto& set = pattern ? c.patterns : c.channels;
  const char* kind = pattern ? "punsubscribe" : "unsubscribe";
  std::vector<std::string> names;
  if (ctx.args.size() == 1) {
    names.assign(set.begin(), set.end());
    std::sort(names.begin(), names.end());
    if (names.empty()) return write_ack(ctx.out, kind, "", true, subscription_count(c));
  } else {
    for (size_t i = 1; i < ctx.args.size(); ++i) names.emplace_back(ctx.args[i]);
  }
  for (const auto& name : names) {
    ctx.server.unsubscribe(&c, name, pattern);
    set.erase(name);
    write_ack(ctx.out, kind, name, false, subscription_count(c));
  }
}

void subscribe(CommandContext& ctx) { subscribe_generic(ctx, false); }
void psubscribe(CommandContext& ctx) { subscribe_generic(ctx, true); }
void unsubscribe(CommandContext& ctx) { unsubscribe_generic(ctx, false); }
void punsubscribe(CommandContext& ctx) { unsubscribe_generic(ctx, true); }

void pubsub(CommandContext& ctx) {
  std::string_view sub = ctx.args[1];
  if (is(sub, "channels") && ctx.args.size() <= 3) {
    auto names = ctx.server.channels(ctx.args.size() == 3 ? ctx.args[2] : std::string_view());
    resp::write_array_header(ctx.out, static_cast<int64_t>(names.size()));
    for (const auto& n : names) resp::write_bulk(ctx.out, n);
    return;
  }
  if (is(sub, "numsub")) {
    resp::write_array_header(ctx.out, static_cast<int64_t>((ctx.args.size() - 2) * 2));
    for (size_t i = 2; i < ctx.args.size(); ++i) {
      resp::write_bulk(ctx.out, ctx.args[i]);
      resp::write_integer(ctx.out,
                          static_cast<int64_t>(ctx.server.channel_subscribers(ctx.args[i])));
    }
    return;
  }
  if (is(sub, "numpat") && ctx.args.size() == 2)
    return resp::write_integer(ctx.out, static_cast<int64_t>(ctx.server.pattern_count()));
  if (is(sub, "help") && ctx.args.size() == 2)
    return help_reply(ctx, {"PUBSUB <subcommand> [<arg> ...]. Subcommands are:",
                            "CHANNELS [<pattern>]", "NUMSUB [<channel> ...]", "NUMPAT"});
  subcommand_error(ctx, {"channels", "numsub", "numpat", "help"});
}

}  // namespace

void register_pubsub_commands(HandlerRegistry& r) {
  r.add("publish", publish);
  r.add("subscribe", subscribe);
  r.add("psubscribe", psubscribe);
  r.add("unsubscribe", unsubscribe);
  r.add("punsubscribe", punsubscribe);
  r.add("pubsub", pubsub);
}

}  // namespace tiercache::l2
