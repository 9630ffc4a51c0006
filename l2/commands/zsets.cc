// Sorted-set commands that read or update single members and ranges: ZADD, ZINCRBY, ZSCORE,
// ZMSCORE, ZCARD, ZCOUNT, ZLEXCOUNT, ZRANK, ZREVRANK, ZREM, ZREMRANGEBY*, the ZRANGE family and
// ZRANGESTORE (Redis 7.0's t_zset.c replies and errors). Multi-key and pop commands are in
// zsets_multi.cc.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <string>
#include <vector>

#include "l2/commands/typed.h"

namespace tiercache::l2 {
namespace {

using namespace cmd;

ZSetValue* read_zset(CommandContext& ctx, std::string_view key, bool* wrong) {
  return lookup_object<ZSetValue>(ctx, key, false, false, wrong);
}
ZSetValue* write_zset(CommandContext& ctx, std::string_view key, bool* wrong) {
  return lookup_object<ZSetValue>(ctx, key, true, false, wrong);
}

// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]; ZINCRBY is ZADD INCR.
void zadd_generic(CommandContext& ctx, bool incr) {
  bool nx = false, xx = false, gt = false, lt = false, ch = false;
  size_t idx = 2;
  for (; idx < ctx.args.size(); ++idx) {
    std::string_view o = ctx.args[idx];
    if (is(o, "nx")) nx = true;
    else if (is(o, "xx")) xx = true;
    else if (is(o, "ch")) ch = true;
    else if (is(o, "incr")) incr = true;
    else if (is(o, "gt")) gt = true;
    else if (is(o, "lt")) lt = true;
    else break;
  }
  size_t elements = ctx.args.size() - idx;
  if (elements % 2 != 0 || elements == 0) return error(ctx, kSyntaxError);
  elements /= 2;
  if (nx && xx) return error(ctx, "ERR XX and NX options at the same time are not compatible");
  if ((gt && nx) || (lt && nx) || (gt && lt))
    return error(ctx, "ERR GT, LT, and/or NX options at the same time are not compatible");
  if (incr && elements > 1)
    return error(ctx, "ERR INCR option supports a single increment-element pair");
  std::vector<double> scores(elements);
  for (size_t j = 0; j < elements; ++j) {
    auto d = parse_double(ctx.args[idx + j * 2]);
    if (!d) return error(ctx, "ERR value is not a valid float");
    scores[j] = *d;
  }
  bool wrong;
  ZSetValue* z = write_zset(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  int64_t added = 0, updated = 0, processed = 0;
  double score = 0;
  if (z == nullptr && !xx) z = ks(ctx).create<ZSetValue>(ctx.client.db, ctx.args[1]);
  for (size_t j = 0; z != nullptr && j < elements; ++j) {
    std::string_view member = ctx.args[idx + 1 + j * 2];
    score = scores[j];
    auto cur = z->score(member);
    if (cur) {
      if (nx) continue;
      if (incr) {
        score += *cur;
        if (std::isnan(score)) {
          error(ctx, "ERR resulting score is not a number (NaN)");
          return after_write(ctx, ctx.args[1], z);
        }
      }
      if ((gt && score <= *cur) || (lt && score >= *cur)) continue;
      ++processed;
      if (score != *cur) {
        z->set(member, score);
        ++updated;
      }
    } else {
      if (xx) continue;
      z->set(member, score);
      ++added;
      ++processed;
    }
  }
  if (z != nullptr) {
    if (added + updated > 0)
      ks(ctx).signal_modified(ctx.client.db, ctx.args[1]);
    else if (z->size() == 0)
      ks(ctx).remove(ctx.client.db, ctx.args[1]);
  }
  if (incr) {
    if (processed) return write_double(ctx.out, score);
    return resp::write_null(ctx.out);
  }
  resp::write_integer(ctx.out, ch ? added + updated : added);
}
void zadd(CommandContext& ctx) { zadd_generic(ctx, false); }

void zincrby(CommandContext& ctx) {
  auto d = parse_double(ctx.args[2]);
  if (!d) return error(ctx, "ERR value is not a valid float");
  bool wrong;
  ZSetValue* z = write_zset(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  double score = *d;
  if (z != nullptr) {
    if (auto cur = z->score(ctx.args[3])) {
      score += *cur;
      if (std::isnan(score)) return error(ctx, "ERR resulting score is not a number (NaN)");
    }
  } else {
    z = ks(ctx).create<ZSetValue>(ctx.client.db, ctx.args[1]);
  }
  z->set(ctx.args[3], score);
  ks(ctx).signal_modified(ctx.client.db, ctx.args[1]);
  write_double(ctx.out, score);
}

void zscore(CommandContext& ctx) {
  bool wrong;
  ZSetValue* z = read_zset(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  auto s = z ? z->score(ctx.args[2]) : std::nullopt;
  if (!s) return resp::write_null(ctx.out);
  write_double(ctx.out, *s);
}

void zmscore(CommandContext& ctx) {
  bool wrong;
  ZSetValue* z = read_zset(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  resp::write_array_header(ctx.out, static_cast<int64_t>(ctx.args.size() - 2));
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    auto s = z ? z->score(ctx.args[i]) : std::nullopt;
    if (s)
      write_double(ctx.out, *s);
    else
      resp::write_null(ctx.out);
  }
}

void zcard(CommandContext& ctx) {
  bool wrong;
  ZSetValue* z = read_zset(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  resp::write_integer(ctx.out, z ? static_cast<int64_t>(z->size()) : 0);
}

void zrank_generic(CommandContext& ctx, bool rev) {
  bool wrong;
  ZSetValue* z = read_zset(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  auto r = z ? z->rank(ctx.args[2]) : std::nullopt;
  if (!r) return resp::write_null(ctx.out);
  resp::write_integer(ctx.out, static_cast<int64_t>(rev ? z->size() - 1 - *r : *r));
}
void zrank(CommandContext& ctx) { zrank_generic(ctx, false); }
void zrevrank(CommandContext& ctx) { zrank_generic(ctx, true); }

void zrem(CommandContext& ctx) {
  bool wrong;
  ZSetValue* z = write_zset(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  int64_t n = 0;
  if (z != nullptr) {
    for (size_t i = 2; i < ctx.args.size(); ++i) n += z->remove(ctx.args[i]);
    if (n > 0) after_write(ctx, ctx.args[1], z);
  }
  resp::write_integer(ctx.out, n);
}

// ---- ranges ----

// A score bound: "(1.5" exclusive, "1.5" inclusive, "-inf"/"+inf" (zslParseRange).
bool parse_score_bound(std::string_view s, double* v, bool* exclusive) {
  *exclusive = !s.empty() && s[0] == '(';
  if (*exclusive) s.remove_prefix(1);
  if (s.empty() || s.size() > 256) return false;
  char buf[260];
  memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  char* end;
  *v = strtod(buf, &end);
  return *end == '\0' && !std::isnan(*v);
}

// A lex bound: "[a" inclusive, "(a" exclusive, "-" / "+" the ends (zslParseLexRangeItem).
struct LexBound {
  std::string_view value;
  bool exclusive = false;
  int inf = 0;  // -1 for "-", +1 for "+"
};
bool parse_lex_bound(std::string_view s, LexBound* b) {
  if (s.empty()) return false;
  if (s[0] == '+' || s[0] == '-') {
    if (s.size() != 1) return false;
    b->inf = s[0] == '+' ? 1 : -1;
    return true;
  }
  if (s[0] != '(' && s[0] != '[') return false;
  b->exclusive = s[0] == '(';
  b->value = s.substr(1);
  return true;
}

// Ranks [lo, hi) of the members inside a score or lex range, in ascending order.
struct RankSpan {
  size_t lo = 0, hi = 0;
};
RankSpan score_span(const ZSetValue& z, double min, bool minex, double max, bool maxex) {
  RankSpan r{z.count_below_score(min, minex), z.count_below_score(max, !maxex)};
  if (r.hi < r.lo) r.hi = r.lo;
  return r;
}
size_t lex_rank(const ZSetValue& z, const LexBound& b, bool is_max) {
  if (b.inf < 0) return 0;
  if (b.inf > 0) return z.size();
  // A min bound counts what lies before it; a max bound counts what it still includes.
  bool inclusive = is_max ? !b.exclusive : b.exclusive;
  return z.count_below_lex(b.value, inclusive);
}
RankSpan lex_span(const ZSetValue& z, const LexBound& min, const LexBound& max) {
  RankSpan r{lex_rank(z, min, false), lex_rank(z, max, true)};
  if (r.hi < r.lo) r.hi = r.lo;
  return r;
}

// Parses the score range of ZCOUNT/ZREMRANGEBYSCORE; writes the error on failure.
bool score_args(CommandContext& ctx, std::string_view a, std::string_view b, double* min,
                bool* minex, double* max, bool* maxex) {
  if (!parse_score_bound(a, min, minex) || !parse_score_bound(b, max, maxex)) {
    error(ctx, "ERR min or max is not a float");
    return false;
  }
  return true;
}
bool lex_args(CommandContext& ctx, std::string_view a, std::string_view b, LexBound* min,
              LexBound* max) {
  if (!parse_lex_bound(a, min) || !parse_lex_bound(b, max)) {
    error(ctx, "ERR min or max not valid string range item");
    return false;
  }
  return true;
}

void zcount(CommandContext& ctx) {
  double min, max;
  bool minex, maxex;
  if (!score_args(ctx, ctx.args[2], ctx.args[3], &min, &minex, &max, &maxex)) return;
  bool wrong;
  ZSetValue* z = read_zset(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (z == nullptr) return resp::write_integer(ctx.out, 0);
  RankSpan r = score_span(*z, min, minex, max, maxex);
  resp::write_integer(ctx.out, static_cast<int64_t>(r.hi - r.lo));
}

void zlexcount(CommandContext& ctx) {
  LexBound min, max;
  if (!lex_args(ctx, ctx.args[2], ctx.args[3], &min, &max)) return;
  bool wrong;
  ZSetValue* z = read_zset(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (z == nullptr) return resp::write_integer(ctx.out, 0);
  RankSpan r = lex_span(*z, min, max);
  resp::write_integer(ctx.out, static_cast<int64_t>(r.hi - r.lo));
}

enum class RangeType { kRank, kScore, kLex };

void remove_span(CommandContext& ctx, ZSetValue* z, RankSpan r) {
  if (r.hi <= r.lo) return resp::write_integer(ctx.out, 0);
  std::vector<std::string> doomed;
  for (const auto& it : z->range(r.lo, r.hi - 1)) doomed.emplace_back(it.member);
  for (const auto& m : doomed) z->remove(m);
  after_write(ctx, ctx.args[1], z);
  resp::write_integer(ctx.out, static_cast<int64_t>(doomed.size()));
}

void zremrange_generic(CommandContext& ctx, RangeType type) {
  int64_t start = 0, stop = 0;
  double min = 0, max = 0;
  bool minex = false, maxex = false;
  LexBound lmin, lmax;
  if (type == RangeType::kRank) {
    auto a = int_arg(ctx, ctx.args[2]);
    if (!a) return;
    auto b = int_arg(ctx, ctx.args[3]);
    if (!b) return;
    start = *a;
    stop = *b;
  } else if (type == RangeType::kScore) {
    if (!score_args(ctx, ctx.args[2], ctx.args[3], &min, &minex, &max, &maxex)) return;
  } else if (!lex_args(ctx, ctx.args[2], ctx.args[3], &lmin, &lmax)) {
    return;
  }
  bool wrong;
  ZSetValue* z = write_zset(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (z == nullptr) return resp::write_integer(ctx.out, 0);
  RankSpan r;
  if (type == RangeType::kRank) {
    size_t from, to;
    if (clamp_range(start, stop, z->size(), &from, &to)) r = RankSpan{from, to + 1};
  } else if (type == RangeType::kScore) {
    r = score_span(*z, min, minex, max, maxex);
  } else {
    r = lex_span(*z, lmin, lmax);
  }
  remove_span(ctx, z, r);
}
void zremrangebyrank(CommandContext& ctx) { zremrange_generic(ctx, RangeType::kRank); }
void zremrangebyscore(CommandContext& ctx) { zremrange_generic(ctx, RangeType::kScore); }
void zremrangebylex(CommandContext& ctx) { zremrange_generic(ctx, RangeType::kLex); }

// ZRANGE, ZRANGESTORE and the deprecated Z[REV]RANGE[BYSCORE|BYLEX] forms (zrangeGenericCommand).
// `first` is the index of the source key; store names the destination (ZRANGESTORE).
void zrange_generic(CommandContext& ctx, size_t first, bool store, RangeType type, bool rev,
                    bool type_fixed, bool rev_fixed) {
  bool withscores = false;
  int64_t offset = 0, limit = -1;
  for (size_t j = first + 3; j < ctx.args.size(); ++j) {
    size_t left = ctx.args.size() - j - 1;
    std::string_view a = ctx.args[j];
    if (!store && is(a, "withscores")) {
      withscores = true;
    } else if (is(a, "limit") && left >= 2) {
      auto o = int_arg(ctx, ctx.args[j + 1]);
      if (!o) return;
      auto l = int_arg(ctx, ctx.args[j + 2]);
      if (!l) return;
      offset = *o;
      limit = *l;
      j += 2;
    } else if (!rev_fixed && is(a, "rev")) {
      rev = true;
    } else if (!type_fixed && is(a, "bylex")) {
      type = RangeType::kLex;
      type_fixed = true;
    } else if (!type_fixed && is(a, "byscore")) {
      type = RangeType::kScore;
      type_fixed = true;
    } else {
      return error(ctx, kSyntaxError);
    }
  }
  if (limit != -1 && type == RangeType::kRank)
    return error(ctx, "ERR syntax error, LIMIT is only supported in combination with either "
                      "BYSCORE or BYLEX");
  if (withscores && type == RangeType::kLex)
    return error(ctx, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
  std::string_view a = ctx.args[first + 1], b = ctx.args[first + 2];
  if (rev && type != RangeType::kRank) std::swap(a, b);
  int64_t start = 0, stop = 0;
  double min = 0, max = 0;
  bool minex = false, maxex = false;
  LexBound lmin, lmax;
  if (type == RangeType::kRank) {
    auto x = int_arg(ctx, a);
    if (!x) return;
    auto y = int_arg(ctx, b);
    if (!y) return;
    start = *x;
    stop = *y;
  } else if (type == RangeType::kScore) {
    if (!score_args(ctx, a, b, &min, &minex, &max, &maxex)) return;
  } else if (!lex_args(ctx, a, b, &lmin, &lmax)) {
    return;
  }
  bool wrong;
  ZSetValue* z = read_zset(ctx, ctx.args[first], &wrong);
  if (wrong) return;
  std::vector<ZSetValue::Item> items;
  if (z != nullptr) {
    RankSpan r;
    if (type == RangeType::kRank) {
      size_t from, to;
      size_t n = z->size();
      // REV counts ranks from the end: map them onto ascending ranks.
      if (clamp_range(start, stop, n, &from, &to))
        r = rev ? RankSpan{n - 1 - to, n - from} : RankSpan{from, to + 1};
    } else if (type == RangeType::kScore) {
      r = score_span(*z, min, minex, max, maxex);
    } else {
      r = lex_span(*z, lmin, lmax);
    }
    if (r.hi > r.lo) items = z->range(r.lo, r.hi - 1);
    if (rev) std::reverse(items.begin(), items.end());
    if (type != RangeType::kRank) {
      if (offset < 0 || static_cast<uint64_t>(offset) >= items.size()) {
        items.clear();
      } else {
        items.erase(items.begin(), items.begin() + offset);
        if (limit >= 0 && static_cast<uint64_t>(limit) < items.size()) items.resize(static_cast<size_t>(limit));
      }
    }
  }
  if (store) {
    std::vector<std::pair<std::string, double>> copy;
    for (const auto& it : items) copy.emplace_back(std::string(it.member), it.score);
    int db = ctx.client.db;
    bool existed = ks(ctx).remove(db, ctx.args[1]);
    if (!copy.empty()) {
      ZSetValue* d = ks(ctx).create<ZSetValue>(db, ctx.args[1]);
      for (const auto& [m, s] : copy) d->set(m, s);
    }
    if (existed || !copy.empty()) ks(ctx).signal_modified(db, ctx.args[1]);
    return resp::write_integer(ctx.out, static_cast<int64_t>(copy.size()));
  }
  resp::write_array_header(ctx.out, static_cast<int64_t>(items.size() * (withscores ? 2 : 1)));
  for (const auto& it : items) {
    resp::write_bulk(ctx.out, it.member);
    if (withscores) write_double(ctx.out, it.score);
  }
}

void zrange(CommandContext& ctx) { zrange_generic(ctx, 1, false, RangeType::kRank, false, false, false); }
void zrangestore(CommandContext& ctx) {
  zrange_generic(ctx, 2, true, RangeType::kRank, false, false, false);
}
void zrevrange(CommandContext& ctx) { zrange_generic(ctx, 1, false, RangeType::kRank, true, true, true); }
void zrangebyscore(CommandContext& ctx) {
  zrange_generic(ctx, 1, false, RangeType::kScore, false, true, true);
}
void zrevrangebyscore(CommandContext& ctx) {
  zrange_generic(ctx, 1, false, RangeType::kScore, true, true, true);
}
void zrangebylex(CommandContext& ctx) { zrange_generic(ctx, 1, false, RangeType::kLex, false, true, true); }
void zrevrangebylex(CommandContext& ctx) {
  zrange_generic(ctx, 1, false, RangeType::kLex, true, true, true);
}

}  // namespace

void register_zset_commands(HandlerRegistry& r) {
  r.add("zadd", zadd);
  r.add("zincrby", zincrby);
  r.add("zscore", zscore);
  r.add("zmscore", zmscore);
  r.add("zcard", zcard);
  r.add("zcount", zcount);
  r.add("zlexcount", zlexcount);
  r.add("zrank", zrank);
  r.add("zrevrank", zrevrank);
  r.add("zrem", zrem);
  r.add("zremrangebyrank", zremrangebyrank);
  r.add("zremrangebyscore", zremrangebyscore);
  r.add("zremrangebylex", zremrangebylex);
  r.add("zrange", zrange);
  r.add("zrangestore", zrangestore);
  r.add("zrevrange", zrevrange);
  r.add("zrangebyscore", zrangebyscore);
  r.add("zrevrangebyscore", zrevrangebyscore);
  r.add("zrangebylex", zrangebylex);
  r.add("zrevrangebylex", zrevrangebylex);
}

}  // namespace tiercache::l2
