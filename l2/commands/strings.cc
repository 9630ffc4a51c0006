// String commands: GET, SET and its variants, MGET/MSET, APPEND, STRLEN, the INCR family.
#include <charconv>
#include <cmath>

#include "l2/commands/typed.h"

namespace tiercache::l2 {
namespace {

using namespace cmd;

// The string at key for reading or writing: nullopt after WRONGTYPE, nullptr when missing.
std::optional<Entry*> lookup_string(CommandContext& ctx, std::string_view key, bool write) {
  return lookup_typed(ctx, key, ValueType::kString, write);
}

// SET and GETEX share the expiry options EX s | PX ms | EXAT ts | PXAT ts.
bool is_expire_option(std::string_view a) {
  return is(a, "ex") || is(a, "px") || is(a, "exat") || is(a, "pxat");
}

// Parses the option's value into unix ms; writes the error and returns false when invalid.
bool parse_expire_option(CommandContext& ctx, std::string_view option, std::string_view value,
                         int64_t* expire_at) {
  bool seconds = is(option, "ex") || is(option, "exat");
  bool absolute = is(option, "exat") || is(option, "pxat");
  return expire_at_ms(ctx, value, seconds ? 1000 : 1, absolute, false, expire_at);
}

void get(CommandContext& ctx) {
  auto e = lookup_string(ctx, ctx.args[1], false);
  if (!e) return;
  if (*e == nullptr) return resp::write_null(ctx.out);
  resp::write_bulk(ctx.out, (*e)->value());
}

// Stores key=value with expire_at (0 = none); an expiry already in the past deletes the key.
void store(CommandContext& ctx, std::string_view key, std::string_view value, int64_t expire_at) {
  if (expire_at != 0 && expire_at <= ctx.now_ms) {
    ks(ctx).remove(ctx.client.db, key);
    return;
  }
  ks(ctx).set(ctx.client.db, key, value, expire_at);
}

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts|KEEPTTL]
void set(CommandContext& ctx) {
  enum { kNone, kNx, kXx } cond = kNone;
  bool get_old = false, keep_ttl = false, has_expire = false;
  int64_t expire_at = 0;
  for (size_t i = 3; i < ctx.args.size(); ++i) {
    std::string_view a = ctx.args[i];
    bool next = i + 1 < ctx.args.size();
    if (is(a, "nx") && cond != kXx) {
      cond = kNx;
    } else if (is(a, "xx") && cond != kNx) {
      cond = kXx;
    } else if (is(a, "get")) {
      get_old = true;
    } else if (is(a, "keepttl") && !has_expire) {
      keep_ttl = true;
    } else if (is_expire_option(a) && !keep_ttl && !has_expire && next) {
      if (!parse_expire_option(ctx, a, ctx.args[++i], &expire_at)) return;
      has_expire = true;
    } else {
      return error(ctx, kSyntaxError);
    }
  }
  int db = ctx.client.db;
  std::string_view key = ctx.args[1];
  Entry* old = ks(ctx).lookup_write(db, key, ctx.now_ms);
  if (get_old && old && !old->is_string()) return error(ctx, kWrongType);
  if (get_old) {
    if (old)
      resp::write_bulk(ctx.out, old->value());
    else
      resp::write_null(ctx.out);
  }
  if ((cond == kNx && old) || (cond == kXx && !old)) {
    if (!get_old) resp::write_null(ctx.out);
    return;
  }
  if (keep_ttl && old) expire_at = old->expire_at;
  store(ctx, key, ctx.args[2], expire_at);
  if (!get_old) resp::write_ok(ctx.out);
}

void setnx(CommandContext& ctx) {
  if (ks(ctx).lookup_write(ctx.client.db, ctx.args[1], ctx.now_ms))
    return resp::write_integer(ctx.out, 0);
  ks(ctx).set(ctx.client.db, ctx.args[1], ctx.args[2], 0);
  resp::write_integer(ctx.out, 1);
}

void setex_generic(CommandContext& ctx, int64_t unit) {
  int64_t when = 0;
  if (!expire_at_ms(ctx, ctx.args[2], unit, false, false, &when)) return;
  store(ctx, ctx.args[1], ctx.args[3], when);
  resp::write_ok(ctx.out);
}
void setex(CommandContext& ctx) { setex_generic(ctx, 1000); }
void psetex(CommandContext& ctx) { setex_generic(ctx, 1); }

void getset(CommandContext& ctx) {
  auto found = lookup_string(ctx, ctx.args[1], true);
  if (!found) return;
  Entry* old = *found;
  if (old)
    resp::write_bulk(ctx.out, old->value());
  else
    resp::write_null(ctx.out);
  ks(ctx).set(ctx.client.db, ctx.args[1], ctx.args[2], 0);
}

void getdel(CommandContext& ctx) {
  auto found = lookup_string(ctx, ctx.args[1], false);
  if (!found) return;
  Entry* e = *found;
  if (!e) return resp::write_null(ctx.out);
  resp::write_bulk(ctx.out, e->value());
  ks(ctx).remove(ctx.client.db, ctx.args[1]);
}

// GETEX key [EX s|PX ms|EXAT ts|PXAT ts|PERSIST]
void getex(CommandContext& ctx) {
  bool persist = false, has_expire = false;
  int64_t expire_at = 0;
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    std::string_view a = ctx.args[i];
    bool next = i + 1 < ctx.args.size();
    if (is(a, "persist") && !has_expire && !persist) {
      persist = true;
    } else if (is_expire_option(a) && !persist && !has_expire && next) {
      if (!parse_expire_option(ctx, a, ctx.args[++i], &expire_at)) return;
      has_expire = true;
    } else {
      return error(ctx, kSyntaxError);
    }
  }
  int db = ctx.client.db;
  auto found = lookup_string(ctx, ctx.args[1], false);
  if (!found) return;
  Entry* e = *found;
  if (!e) return resp::write_null(ctx.out);
  resp::write_bulk(ctx.out, e->value());
  if (has_expire) {
    if (expire_at <= ctx.now_ms)
      ks(ctx).remove(db, ctx.args[1]);
    else
      ks(ctx).set_expire(db, e, expire_at);
  } else if (persist && e->expire_at != 0) {
    ks(ctx).set_expire(db, e, 0);
  }
}

void mget(CommandContext& ctx) {
  resp::write_array_header(ctx.out, static_cast<int64_t>(ctx.args.size() - 1));
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    Entry* e = ks(ctx).lookup_read(ctx.client.db, ctx.args[i], ctx.now_ms);
    if (e && e->is_string())
      resp::write_bulk(ctx.out, e->value());
    else
      resp::write_null(ctx.out);
  }
}

void mset(CommandContext& ctx) {
  if (ctx.args.size() % 2 != 1) return error(ctx, resp::wrong_arity_error(ctx.spec.name));
  for (size_t i = 1; i + 1 < ctx.args.size(); i += 2)
    ks(ctx).set(ctx.client.db, ctx.args[i], ctx.args[i + 1], 0);
  resp::write_ok(ctx.out);
}

void msetnx(CommandContext& ctx) {
  if (ctx.args.size() % 2 != 1) return error(ctx, resp::wrong_arity_error(ctx.spec.name));
  for (size_t i = 1; i + 1 < ctx.args.size(); i += 2) {
    if (ks(ctx).lookup_write(ctx.client.db, ctx.args[i], ctx.now_ms))
      return resp::write_integer(ctx.out, 0);
  }
  for (size_t i = 1; i + 1 < ctx.args.size(); i += 2)
    ks(ctx).set(ctx.client.db, ctx.args[i], ctx.args[i + 1], 0);
  resp::write_integer(ctx.out, 1);
}

void append(CommandContext& ctx) {
  int db = ctx.client.db;
  auto found = lookup_string(ctx, ctx.args[1], true);
  if (!found) return;
  Entry* e = *found;
  if (!e) {
    e = ks(ctx).set(db, ctx.args[1], ctx.args[2], 0);
    return resp::write_integer(ctx.out, static_cast<int64_t>(e->val_len));
  }
  if (static_cast<uint64_t>(e->val_len) + ctx.args[2].size() >
      ctx.server.config().proto_max_bulk_len)
    return error(ctx, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
  e = ks(ctx).append(db, e, ctx.args[2]);
  resp::write_integer(ctx.out, static_cast<int64_t>(e->val_len));
}

void strlen_cmd(CommandContext& ctx) {
  auto found = lookup_string(ctx, ctx.args[1], false);
  if (!found) return;
  Entry* e = *found;
  resp::write_integer(ctx.out, e ? static_cast<int64_t>(e->val_len) : 0);
}

void incr_generic(CommandContext& ctx, int64_t delta) {
  int db = ctx.client.db;
  auto found = lookup_string(ctx, ctx.args[1], true);
  if (!found) return;
  Entry* e = *found;
  int64_t value = 0;
  int64_t expire_at = 0;
  if (e) {
    auto v = util::parse_int64(e->value());
    if (!v) return error(ctx, kNotInteger);
    value = *v;
    expire_at = e->expire_at;
  }
  if ((delta < 0 && value < 0 && delta < INT64_MIN - value) ||
      (delta > 0 && value > 0 && delta > INT64_MAX - value))
    return error(ctx, "ERR increment or decrement would overflow");
  value += delta;
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  ks(ctx).set(db, ctx.args[1], std::string_view(buf, static_cast<size_t>(end - buf)), expire_at);
  resp::write_integer(ctx.out, value);
}

void incr(CommandContext& ctx) { incr_generic(ctx, 1); }
void decr(CommandContext& ctx) { incr_generic(ctx, -1); }
void incrby(CommandContext& ctx) {
  auto d = int_arg(ctx, ctx.args[2]);
  if (d) incr_generic(ctx, *d);
}
void decrby(CommandContext& ctx) {
  auto d = int_arg(ctx, ctx.args[2]);
  if (!d) return;
  if (*d == INT64_MIN) return error(ctx, "ERR decrement would overflow");
  incr_generic(ctx, -*d);
}

void incrbyfloat(CommandContext& ctx) {
  int db = ctx.client.db;
  auto incr = util::parse_long_double(ctx.args[2]);
  if (!incr) return error(ctx, "ERR value is not a valid float");
  auto found = lookup_string(ctx, ctx.args[1], true);
  if (!found) return;
  Entry* e = *found;
  long double value = 0;
  int64_t expire_at = 0;
  if (e) {
    auto v = util::parse_long_double(e->value());
    if (!v) return error(ctx, "ERR value is not a valid float");
    value = *v;
    expire_at = e->expire_at;
  }
  value += *incr;
  if (std::isnan(value) || std::isinf(value))
    return error(ctx, "ERR increment would produce NaN or Infinity");
  std::string s = util::format_long_double(value);
  ks(ctx).set(db, ctx.args[1], s, expire_at);
  resp::write_bulk(ctx.out, s);
}

}  // namespace

void register_string_commands(HandlerRegistry& r) {
  r.add("get", get);
  r.add("set", set);
  r.add("setnx", setnx);
  r.add("setex", setex);
  r.add("psetex", psetex);
  r.add("getset", getset);
  r.add("getdel", getdel);
  r.add("getex", getex);
  r.add("mget", mget);
  r.add("mset", mset);
  r.add("msetnx", msetnx);
  r.add("append", append);
  r.add("strlen", strlen_cmd);
  r.add("incr", incr);
  r.add("decr", decr);
  r.add("incrby", incrby);
  r.add("decrby", decrby);
  r.add("incrbyfloat", incrbyfloat);
}

}  // namespace tiercache::l2
