// Sorted-set commands over several keys or that pop: ZUNION/ZINTER/ZDIFF and their STORE forms,
// ZINTERCARD, ZPOPMIN/ZPOPMAX, ZMPOP and the blocking BZPOPMIN/BZPOPMAX/BZMPOP, ZRANDMEMBER,
// ZSCAN (Redis 7.0's t_zset.c replies; the waiting itself is l2/blocking.h's).
#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>
#include <vector>

#include "l2/blocking.h"
#include "l2/commands/typed.h"
#include "shared/glob/glob.h"

namespace tiercache::l2 {
namespace {

using namespace cmd;

ZSetValue* write_zset(CommandContext& ctx, std::string_view key, bool* wrong) {
  return lookup_object<ZSetValue>(ctx, key, true, false, wrong);
}

using Scored = std::vector<std::pair<std::string, double>>;

void write_scored(CommandContext& ctx, const Scored& items, bool withscores) {
  resp::write_array_header(ctx.out, static_cast<int64_t>(items.size() * (withscores ? 2 : 1)));
  for (const auto& [m, s] : items) {
    resp::write_bulk(ctx.out, m);
    if (withscores) write_double(ctx.out, s);
  }
}

// Stores items as dst (replacing it; an empty result deletes it) and replies the count.
void store_scored(CommandContext& ctx, std::string_view dst, const Scored& items) {
  int db = ctx.client.db;
  bool existed = ks(ctx).remove(db, dst);
  if (!items.empty()) {
    ZSetValue* d = ks(ctx).create<ZSetValue>(db, dst);
    size_t longest = 0;
    for (const auto& item : items) longest = std::max(longest, item.first.size());
    d->prepare(items.size(), longest);
    for (const auto& [m, s] : items) d->set(m, s);
  }
  if (existed || !items.empty()) ks(ctx).signal_modified(db, dst);
  resp::write_integer(ctx.out, static_cast<int64_t>(items.size()));
}

enum class ZOp { kUnion, kInter, kDiff };
enum class Aggregate { kSum, kMin, kMax };

// One input of ZUNION & co: a sorted set, a plain set (every score 1) or a missing key.
struct Source {
  const ZSetValue* z = nullptr;
  const SetValue* s = nullptr;
  double weight = 1;
  size_t size() const { return z ? z->size() : s ? s->size() : 0; }
  std::optional<double> score(std::string_view m) const {
    if (z) return z->score(m);
    if (s && s->contains(m)) return 1.0;
    return std::nullopt;
  }
  template <class F>
  void for_each(F&& f) const {
    if (z) z->for_each([&](std::string_view m, double sc) { f(m, sc); });
    if (s) s->for_each([&](std::string_view m) { f(m, 1.0); });
  }
};

double weighted(double score, double weight) {
  double v = score * weight;
  return std::isnan(v) ? 0 : v;
}
void aggregate(double* target, double v, Aggregate a) {
  if (a == Aggregate::kSum) {
    *target += v;
    if (std::isnan(*target)) *target = 0;
  } else if (a == Aggregate::kMin) {
    *target = std::min(*target, v);
  } else {
    *target = std::max(*target, v);
  }
}

// zunionInterDiffGenericCommand: numkeys at nk_at, destination (if any) at args[1].
void zsetop_generic(CommandContext& ctx, size_t nk_at, bool store, ZOp op, bool card_only) {
  auto setnum = int_arg(ctx, ctx.args[nk_at]);
  if (!setnum) return;
  if (*setnum < 1)
    return error(ctx, "ERR at least 1 input key is needed for '" + std::string(ctx.spec.name) +
                          "' command");
  if (*setnum > static_cast<int64_t>(ctx.args.size() - nk_at - 1)) return error(ctx, kSyntaxError);
  size_t n = static_cast<size_t>(*setnum);
  std::vector<Source> src(n);
  for (size_t i = 0; i < n; ++i) {
    Entry* e = ks(ctx).lookup_read(ctx.client.db, ctx.args[nk_at + 1 + i], ctx.now_ms);
    if (e == nullptr) continue;
    if (e->type == static_cast<uint8_t>(ValueType::kZSet))
      src[i].z = e->object<ZSetValue>();
    else if (e->type == static_cast<uint8_t>(ValueType::kSet))
      src[i].s = e->object<SetValue>();
    else
      return error(ctx, kWrongType);
  }
  Aggregate agg = Aggregate::kSum;
  bool withscores = false;
  int64_t limit = 0;
  size_t j = nk_at + 1 + n;
  while (j < ctx.args.size()) {
    size_t remaining = ctx.args.size() - j;
    std::string_view a = ctx.args[j];
    if (op != ZOp::kDiff && !card_only && remaining >= n + 1 && is(a, "weights")) {
      ++j;
      for (size_t i = 0; i < n; ++i, ++j) {
        auto w = parse_double(ctx.args[j]);
        if (!w) return error(ctx, "ERR weight value is not a float");
        src[i].weight = *w;
      }
    } else if (op != ZOp::kDiff && !card_only && remaining >= 2 && is(a, "aggregate")) {
      std::string_view v = ctx.args[j + 1];
      if (is(v, "sum")) agg = Aggregate::kSum;
      else if (is(v, "min")) agg = Aggregate::kMin;
      else if (is(v, "max")) agg = Aggregate::kMax;
      else return error(ctx, kSyntaxError);
      j += 2;
    } else if (!store && !card_only && is(a, "withscores")) {
      withscores = true;
      ++j;
    } else if (card_only && remaining >= 2 && is(a, "limit")) {
      auto l = range_arg(ctx, ctx.args[j + 1], 0, INT64_MAX, "ERR LIMIT can't be negative");
      if (!l) return;
      limit = *l;
      j += 2;
    } else {
      return error(ctx, kSyntaxError);
    }
  }
  Scored result;
  if (op == ZOp::kInter) {
    size_t smallest = 0;
    for (size_t i = 0; i < n; ++i)
      if (src[i].size() < src[smallest].size()) smallest = i;
    if (src[smallest].size() > 0) {
      src[smallest].for_each([&](std::string_view m, double sc) {
        if (card_only && limit != 0 && result.size() >= static_cast<size_t>(limit)) return;
        double score = weighted(sc, src[smallest].weight);
        for (size_t i = 0; i < n; ++i) {
          if (i == smallest) continue;
          auto other = src[i].score(m);
          if (!other) return;
          // As zinter in Redis 7.0: only the first source's product is cleared of NaN; the
          // others reach the aggregate as they are (SUM then turns NaN into 0).
          aggregate(&score, *other * src[i].weight, agg);
        }
        result.emplace_back(std::string(m), score);
      });
    }
  } else if (op == ZOp::kUnion) {
    std::unordered_map<std::string, size_t> at;
    for (size_t i = 0; i < n; ++i) {
      src[i].for_each([&](std::string_view m, double sc) {
        double v = weighted(sc, src[i].weight);
        auto [it, fresh] = at.emplace(std::string(m), result.size());
        if (fresh)
          result.emplace_back(std::string(m), v);
        else
          aggregate(&result[it->second].second, v, agg);
      });
    }
  } else {
    src[0].for_each([&](std::string_view m, double sc) {
      for (size_t i = 1; i < n; ++i)
        if (src[i].score(m)) return;
      result.emplace_back(std::string(m), sc);
    });
  }
  if (card_only) return resp::write_integer(ctx.out, static_cast<int64_t>(result.size()));
  if (store) return store_scored(ctx, ctx.args[1], result);
  std::sort(result.begin(), result.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second < y.second : x.first < y.first;
  });
  write_scored(ctx, result, withscores);
}

void zunion(CommandContext& ctx) { zsetop_generic(ctx, 1, false, ZOp::kUnion, false); }
void zinter(CommandContext& ctx) { zsetop_generic(ctx, 1, false, ZOp::kInter, false); }
void zdiff(CommandContext& ctx) { zsetop_generic(ctx, 1, false, ZOp::kDiff, false); }
void zunionstore(CommandContext& ctx) { zsetop_generic(ctx, 2, true, ZOp::kUnion, false); }
void zinterstore(CommandContext& ctx) { zsetop_generic(ctx, 2, true, ZOp::kInter, false); }
void zdiffstore(CommandContext& ctx) { zsetop_generic(ctx, 2, true, ZOp::kDiff, false); }
void zintercard(CommandContext& ctx) { zsetop_generic(ctx, 1, false, ZOp::kInter, true); }

// Pops up to count members from the min or max end of z.
Scored pop_members(ZSetValue* z, bool max, int64_t count) {
  Scored out;
  size_t n = std::min(static_cast<size_t>(count), z->size());
  if (n == 0) return out;
  auto items = max ? z->range(z->size() - n, z->size() - 1) : z->range(0, n - 1);
  if (max) std::reverse(items.begin(), items.end());
  for (const auto& it : items) out.emplace_back(std::string(it.member), it.score);
  for (const auto& [m, s] : out) z->remove(m);
  return out;
}

void zpop_generic(CommandContext& ctx, bool max) {
  if (ctx.args.size() > 3) return error(ctx, kSyntaxError);
  int64_t count = 1;
  if (ctx.args.size() == 3) {
    auto c = count_arg(ctx, ctx.args[2]);
    if (!c) return;
    count = *c;
  }
  bool wrong;
  ZSetValue* z = write_zset(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (z == nullptr || count == 0) return resp::write_array_header(ctx.out, 0);
  Scored popped = pop_members(z, max, count);
  write_scored(ctx, popped, true);
  after_write(ctx, ctx.args[1], z);
}
void zpopmin(CommandContext& ctx) { zpop_generic(ctx, false); }
void zpopmax(CommandContext& ctx) { zpop_generic(ctx, true); }

void zpop_with_key(CommandContext& ctx, std::string_view key, ZSetValue* z, bool max,
                   int64_t count);

// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
void zmpop(CommandContext& ctx) {
  MpopArgs a;
  if (!parse_mpop_args(ctx, 1, "min", "max", &a)) return;
  bool max = a.second_word;
  int64_t count = a.count;
  for (size_t k = a.first_key; k < a.end_key; ++k) {
    bool wrong;
    ZSetValue* z = write_zset(ctx, ctx.args[k], &wrong);
    if (wrong) return;
    if (z == nullptr) continue;
    return zpop_with_key(ctx, ctx.args[k], z, max, count);
  }
  resp::write_null_array(ctx.out);
}

// BZPOPMIN/BZPOPMAX's [key, member, score] (count < 0), or ZMPOP's [key, [[member, score]...]],
// from the non-empty z.
void zpop_with_key(CommandContext& ctx, std::string_view key, ZSetValue* z, bool max,
                   int64_t count) {
  Scored popped = pop_members(z, max, count < 0 ? 1 : count);
  if (count < 0) {
    resp::write_array_header(ctx.out, 3);
    resp::write_bulk(ctx.out, key);
    resp::write_bulk(ctx.out, popped[0].first);
    write_double(ctx.out, popped[0].second);
  } else {
    resp::write_array_header(ctx.out, 2);
    resp::write_bulk(ctx.out, key);
    resp::write_array_header(ctx.out, static_cast<int64_t>(popped.size()));
    for (const auto& [m, s] : popped) {
      resp::write_array_header(ctx.out, 2);
      resp::write_bulk(ctx.out, m);
      write_double(ctx.out, s);
    }
  }
  after_write(ctx, key, z);
}

void serve_zpop(CommandContext& ctx, const BlockedOp& op, std::string_view key) {
  bool wrong;
  ZSetValue* z = write_zset(ctx, key, &wrong);
  zpop_with_key(ctx, key, z, !op.from_head, op.count);
}

// BZPOPMIN/BZPOPMAX key [key ...] timeout; BZMPOP timeout numkeys key [key ...] MIN|MAX
// [COUNT n] (blockingGenericZpopCommand).
void blocking_zpop(CommandContext& ctx, std::span<const std::string_view> keys,
                   std::string_view timeout, bool max, int64_t count) {
  BlockedOp op;
  op.from_head = !max;
  op.count = count;
  op.serve = serve_zpop;
  pop_now_or_block<ZSetValue>(ctx, keys, timeout, std::move(op));
}
void bzpopmin(CommandContext& ctx) {
  blocking_zpop(ctx, ctx.args.subspan(1, ctx.args.size() - 2), ctx.args.back(), false, -1);
}
void bzpopmax(CommandContext& ctx) {
  blocking_zpop(ctx, ctx.args.subspan(1, ctx.args.size() - 2), ctx.args.back(), true, -1);
}
void bzmpop(CommandContext& ctx) {
  MpopArgs a;
  if (!parse_mpop_args(ctx, 2, "min", "max", &a)) return;
  blocking_zpop(ctx, ctx.args.subspan(a.first_key, a.end_key - a.first_key), ctx.args[1],
                a.second_word, a.count);
}

// ZRANDMEMBER key [count [WITHSCORES]]
void zrandmember(CommandContext& ctx) {
  bool has_count = ctx.args.size() >= 3;
  bool withscores = ctx.args.size() == 4;
  int64_t count = 1;
  if (has_count) {
    auto c = range_arg(ctx, ctx.args[2], -INT64_MAX, INT64_MAX, kNotInteger);
    if (!c) return;
    count = *c;
    if (ctx.args.size() > 4 || (withscores && !is(ctx.args[3], "withscores")))
      return error(ctx, kSyntaxError);
    if (withscores && (count < -INT64_MAX / 2 || count > INT64_MAX / 2))
      return error(ctx, "ERR value is out of range");
  }
  bool wrong;
  ZSetValue* z = lookup_object<ZSetValue>(ctx, ctx.args[1], false, false, &wrong);
  if (wrong) return;
  if (z == nullptr) return has_count ? resp::write_array_header(ctx.out, 0) : resp::write_null(ctx.out);
  auto all = z->range(0, z->size() - 1);
  if (!has_count) return resp::write_bulk(ctx.out, all[ks(ctx).next_random() % all.size()].member);
  if (count == 0) return resp::write_array_header(ctx.out, 0);
  Scored out;
  if (count < 0) {
    for (int64_t i = 0; i < -count; ++i) {
      const auto& it = all[ks(ctx).next_random() % all.size()];
      out.emplace_back(std::string(it.member), it.score);
    }
  } else {
    size_t n = std::min(static_cast<size_t>(count), all.size());
    for (size_t i = 0; i < n; ++i) std::swap(all[i], all[i + ks(ctx).next_random() % (all.size() - i)]);
    for (size_t i = 0; i < n; ++i) out.emplace_back(std::string(all[i].member), all[i].score);
  }
  write_scored(ctx, out, withscores);
}

// ZSCAN key cursor [MATCH pattern] [COUNT count]: a listpack whole, a skiplist in steps (see
// HSCAN).
void zscan(CommandContext& ctx) {
  ScanArgs a;
  if (!parse_scan_cursor(ctx, ctx.args[2], &a)) return;
  bool wrong;
  ZSetValue* z = lookup_object<ZSetValue>(ctx, ctx.args[1], false, false, &wrong);
  if (wrong || !parse_scan_options(ctx, 3, &a)) return;
  Scored found;
  uint64_t next = 0;
  size_t seen = 0;  // before MATCH filters, as Redis counts toward COUNT
  if (z != nullptr) {
    next = scan_steps(
        a,
        [&](uint64_t c) {
          return z->scan(c, [&](std::string_view m, double s) {
            ++seen;
            if (!a.has_pattern || glob::match(a.pattern, m)) found.emplace_back(std::string(m), s);
          });
        },
        [&] { return seen; });
  }
  resp::write_array_header(ctx.out, 2);
  resp::write_bulk(ctx.out, std::to_string(next));
  write_scored(ctx, found, true);
}

}  // namespace

void register_zset_multi_commands(HandlerRegistry& r) {
  r.add("zunion", zunion);
  r.add("zinter", zinter);
  r.add("zdiff", zdiff);
  r.add("zunionstore", zunionstore);
  r.add("zinterstore", zinterstore);
  r.add("zdiffstore", zdiffstore);
  r.add("zintercard", zintercard);
  r.add("zpopmin", zpopmin);
  r.add("zpopmax", zpopmax);
  r.add("zmpop", zmpop);
  r.add("bzpopmin", bzpopmin);
  r.add("bzpopmax", bzpopmax);
  r.add("bzmpop", bzmpop);
  r.add("zrandmember", zrandmember);
  r.add("zscan", zscan);
}

}  // namespace tiercache::l2
