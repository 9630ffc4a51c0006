// Hash commands: HSET/HMSET, HSETNX, HGET, HMGET, HGETALL, HKEYS, HVALS, HLEN, HEXISTS, HSTRLEN,
// HDEL, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN (Redis 7.0 replies and errors).
#include <string>
#include <vector>

#include "l2/commands/typed.h"
#include "shared/glob/glob.h"

namespace tiercache::l2 {
namespace {

using namespace cmd;

HashValue* read_hash(CommandContext& ctx, bool* wrong) {
  return lookup_object<HashValue>(ctx, ctx.args[1], false, false, wrong);
}
HashValue* write_hash(CommandContext& ctx, bool create, bool* wrong) {
  return lookup_object<HashValue>(ctx, ctx.args[1], true, create, wrong);
}

// HSET key field value [field value ...]; HMSET answers OK.
void hset_generic(CommandContext& ctx, bool ok_reply) {
  if (ctx.args.size() % 2 != 0) return error(ctx, resp::wrong_arity_error(ctx.spec.name));
  bool wrong;
  HashValue* h = write_hash(ctx, true, &wrong);
  if (wrong) return;
  int64_t added = 0;
  for (size_t i = 2; i + 1 < ctx.args.size(); i += 2) added += h->set(ctx.args[i], ctx.args[i + 1]);
  ks(ctx).signal_modified(ctx.client.db, ctx.args[1]);
  if (ok_reply) return resp::write_ok(ctx.out);
  resp::write_integer(ctx.out, added);
}
void hset(CommandContext& ctx) { hset_generic(ctx, false); }
void hmset(CommandContext& ctx) { hset_generic(ctx, true); }

void hsetnx(CommandContext& ctx) {
  bool wrong;
  HashValue* h = write_hash(ctx, false, &wrong);
  if (wrong) return;
  if (h != nullptr && h->get(ctx.args[2])) return resp::write_integer(ctx.out, 0);
  if (h == nullptr) h = ks(ctx).create<HashValue>(ctx.client.db, ctx.args[1]);
  h->set(ctx.args[2], ctx.args[3]);
  ks(ctx).signal_modified(ctx.client.db, ctx.args[1]);
  resp::write_integer(ctx.out, 1);
}

void hget(CommandContext& ctx) {
  bool wrong;
  HashValue* h = read_hash(ctx, &wrong);
  if (wrong) return;
  auto v = h ? h->get(ctx.args[2]) : std::nullopt;
  if (!v) return resp::write_null(ctx.out);
  resp::write_bulk(ctx.out, *v);
}

void hmget(CommandContext& ctx) {
  bool wrong;
  HashValue* h = read_hash(ctx, &wrong);
  if (wrong) return;
  resp::write_array_header(ctx.out, static_cast<int64_t>(ctx.args.size() - 2));
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    auto v = h ? h->get(ctx.args[i]) : std::nullopt;
    if (v)
      resp::write_bulk(ctx.out, *v);
    else
      resp::write_null(ctx.out);
  }
}

// HGETALL, HKEYS, HVALS.
void hgetall_generic(CommandContext& ctx, bool keys, bool values) {
  bool wrong;
  HashValue* h = read_hash(ctx, &wrong);
  if (wrong) return;
  if (h == nullptr) return resp::write_array_header(ctx.out, 0);
  resp::write_array_header(ctx.out, static_cast<int64_t>(h->size() * ((keys && values) ? 2 : 1)));
  h->for_each([&](std::string_view k, std::string_view v) {
    if (keys) resp::write_bulk(ctx.out, k);
    if (values) resp::write_bulk(ctx.out, v);
  });
}
void hgetall(CommandContext& ctx) { hgetall_generic(ctx, true, true); }
void hkeys(CommandContext& ctx) { hgetall_generic(ctx, true, false); }
void hvals(CommandContext& ctx) { hgetall_generic(ctx, false, true); }

void hlen(CommandContext& ctx) {
  bool wrong;
  HashValue* h = read_hash(ctx, &wrong);
  if (wrong) return;
  resp::write_integer(ctx.out, h ? static_cast<int64_t>(h->size()) : 0);
}

void hexists(CommandContext& ctx) {
  bool wrong;
  HashValue* h = read_hash(ctx, &wrong);
  if (wrong) return;
  resp::write_integer(ctx.out, h && h->get(ctx.args[2]) ? 1 : 0);
}

void hstrlen(CommandContext& ctx) {
  bool wrong;
  HashValue* h = read_hash(ctx, &wrong);
  if (wrong) return;
  auto v = h ? h->get(ctx.args[2]) : std::nullopt;
  resp::write_integer(ctx.out, v ? static_cast<int64_t>(v->size()) : 0);
}

void hdel(CommandContext& ctx) {
  bool wrong;
  HashValue* h = write_hash(ctx, false, &wrong);
  if (wrong) return;
  int64_t n = 0;
  if (h != nullptr) {
    for (size_t i = 2; i < ctx.args.size(); ++i) n += h->del(ctx.args[i]);
    if (n > 0) after_write(ctx, ctx.args[1], h);
  }
  resp::write_integer(ctx.out, n);
}

void hincrby(CommandContext& ctx) {
  auto delta = int_arg(ctx, ctx.args[3]);
  if (!delta) return;
  bool wrong;
  HashValue* h = write_hash(ctx, false, &wrong);
  if (wrong) return;
  int64_t value = 0;
  if (h != nullptr) {
    if (auto cur = h->get(ctx.args[2])) {
      int64_t v;
      if (!strict_int64(*cur, &v)) return error(ctx, "ERR hash value is not an integer");
      value = v;
    }
  }
  if ((*delta < 0 && value < 0 && *delta < INT64_MIN - value) ||
      (*delta > 0 && value > 0 && *delta > INT64_MAX - value))
    return error(ctx, "ERR increment or decrement would overflow");
  value += *delta;
  if (h == nullptr) h = ks(ctx).create<HashValue>(ctx.client.db, ctx.args[1]);
  h->set(ctx.args[2], std::to_string(value));
  ks(ctx).signal_modified(ctx.client.db, ctx.args[1]);
  resp::write_integer(ctx.out, value);
}

void hincrbyfloat(CommandContext& ctx) {
  auto delta = util::parse_long_double(ctx.args[3]);
  if (!delta) {
    auto d = parse_double(ctx.args[3]);  // Redis parses "inf" and refuses it afterwards
    return error(ctx, d && std::isinf(*d) ? "ERR value is NaN or Infinity"
                                          : "ERR value is not a valid float");
  }
  bool wrong;
  HashValue* h = write_hash(ctx, false, &wrong);
  if (wrong) return;
  long double value = 0;
  if (h != nullptr) {
    if (auto cur = h->get(ctx.args[2])) {
      auto v = util::parse_long_double(*cur);
      if (!v) return error(ctx, "ERR hash value is not a float");
      value = *v;
    }
  }
  value += *delta;
  if (std::isnan(value) || std::isinf(value))
    return error(ctx, "ERR increment would produce NaN or Infinity");
  std::string s = util::format_long_double(value);
  if (h == nullptr) h = ks(ctx).create<HashValue>(ctx.client.db, ctx.args[1]);
  h->set(ctx.args[2], s);
  ks(ctx).signal_modified(ctx.client.db, ctx.args[1]);
  resp::write_bulk(ctx.out, s);
}

// HRANDFIELD key [count [WITHVALUES]]
void hrandfield(CommandContext& ctx) {
  int64_t count = 1;
  bool has_count = ctx.args.size() >= 3;
  bool with_values = ctx.args.size() == 4;
  if (has_count) {
    auto c = range_arg(ctx, ctx.args[2], -INT64_MAX, INT64_MAX, kNotInteger);
    if (!c) return;
    count = *c;
    if (ctx.args.size() > 4 || (with_values && !is(ctx.args[3], "withvalues")))
      return error(ctx, kSyntaxError);
    if (with_values && (count < -(INT64_MAX / 2) || count > INT64_MAX / 2))
      return error(ctx, "ERR value is out of range");
  }
  bool wrong;
  HashValue* h = read_hash(ctx, &wrong);
  if (wrong) return;
  if (h == nullptr) {
    if (has_count) return resp::write_array_header(ctx.out, 0);
    return resp::write_null(ctx.out);
  }
  std::vector<std::pair<std::string_view, std::string_view>> all;
  all.reserve(h->size());
  h->for_each([&](std::string_view k, std::string_view v) { all.emplace_back(k, v); });
  auto emit = [&](const std::pair<std::string_view, std::string_view>& p) {
    resp::write_bulk(ctx.out, p.first);
    if (with_values) resp::write_bulk(ctx.out, p.second);
  };
  if (!has_count) return resp::write_bulk(ctx.out, all[ks(ctx).next_random() % all.size()].first);
  if (count == 0) return resp::write_array_header(ctx.out, 0);
  int64_t per = with_values ? 2 : 1;
  if (count < 0) {  // repetitions allowed
    resp::write_array_header(ctx.out, -count * per);
    for (int64_t i = 0; i < -count; ++i) emit(all[ks(ctx).next_random() % all.size()]);
    return;
  }
  size_t n = std::min(static_cast<size_t>(count), all.size());
  for (size_t i = 0; i < n; ++i)  // partial Fisher-Yates: n distinct fields
    std::swap(all[i], all[i + ks(ctx).next_random() % (all.size() - i)]);
  resp::write_array_header(ctx.out, static_cast<int64_t>(n) * per);
  for (size_t i = 0; i < n; ++i) emit(all[i]);
}

// HSCAN key cursor [MATCH pattern] [COUNT count]: a listpack whole (cursor 0 back), a hashtable
// in steps of about COUNT fields (typed.h's scan_steps over HashValue::scan).
void hscan(CommandContext& ctx) {
  ScanArgs a;
  if (!parse_scan_cursor(ctx, ctx.args[2], &a)) return;
  bool wrong;
  HashValue* h = read_hash(ctx, &wrong);
  if (wrong || !parse_scan_options(ctx, 3, &a)) return;
  std::vector<std::pair<std::string_view, std::string_view>> found;
  uint64_t next = 0;
  size_t seen = 0;  // before MATCH filters, as Redis counts toward COUNT
  if (h != nullptr) {
    next = scan_steps(
        a,
        [&](uint64_t c) {
          return h->scan(c, [&](std::string_view k, std::string_view v) {
            ++seen;
            if (!a.has_pattern || glob::match(a.pattern, k)) found.emplace_back(k, v);
          });
        },
        [&] { return seen; });
  }
  resp::write_array_header(ctx.out, 2);
  resp::write_bulk(ctx.out, std::to_string(next));
  resp::write_array_header(ctx.out, static_cast<int64_t>(found.size() * 2));
  for (const auto& [k, v] : found) {
    resp::write_bulk(ctx.out, k);
    resp::write_bulk(ctx.out, v);
  }
}

}  // namespace

void register_hash_commands(HandlerRegistry& r) {
  r.add("hset", hset);
  r.add("hmset", hmset);
  r.add("hsetnx", hsetnx);
  r.add("hget", hget);
  r.add("hmget", hmget);
  r.add("hgetall", hgetall);
  r.add("hkeys", hkeys);
  r.add("hvals", hvals);
  r.add("hlen", hlen);
  r.add("hexists", hexists);
  r.add("hstrlen", hstrlen);
  r.add("hdel", hdel);
  r.add("hincrby", hincrby);
  r.add("hincrbyfloat", hincrbyfloat);
  r.add("hrandfield", hrandfield);
  r.add("hscan", hscan);
}

}  // namespace tiercache::l2
