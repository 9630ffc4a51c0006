// Set commands: SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP, SRANDMEMBER, SMOVE,
// SINTER/SUNION/SDIFF and their STORE forms, SINTERCARD, SSCAN (Redis 7.0's t_set.c replies).
#include <algorithm>
#include <string>
#include <vector>

#include "l2/commands/typed.h"
#include "shared/glob/glob.h"

namespace tiercache::l2 {
namespace {

using namespace cmd;

SetValue* read_set(CommandContext& ctx, std::string_view key, bool* wrong) {
  return lookup_object<SetValue>(ctx, key, false, false, wrong);
}
SetValue* write_set(CommandContext& ctx, std::string_view key, bool* wrong) {
  return lookup_object<SetValue>(ctx, key, true, false, wrong);
}

void write_members(CommandContext& ctx, const std::vector<std::string>& members) {
  resp::write_array_header(ctx.out, static_cast<int64_t>(members.size()));
  for (const auto& m : members) resp::write_bulk(ctx.out, m);
}

std::vector<std::string> all_members(const SetValue* s) {
  std::vector<std::string> out;
  if (s == nullptr) return out;
  out.reserve(s->size());
  s->for_each([&](std::string_view m) { out.emplace_back(m); });
  return out;
}

void sadd(CommandContext& ctx) {
  bool wrong;
  SetValue* s = write_set(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (s == nullptr) s = ks(ctx).create<SetValue>(ctx.client.db, ctx.args[1]);
  int64_t added = 0;
  for (size_t i = 2; i < ctx.args.size(); ++i) added += s->add(ctx.args[i]);
  if (added > 0) ks(ctx).signal_modified(ctx.client.db, ctx.args[1]);
  resp::write_integer(ctx.out, added);
}

void srem(CommandContext& ctx) {
  bool wrong;
  SetValue* s = write_set(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  int64_t removed = 0;
  if (s != nullptr) {
    for (size_t i = 2; i < ctx.args.size() && s->size() > 0; ++i) removed += s->remove(ctx.args[i]);
    if (removed > 0) after_write(ctx, ctx.args[1], s);
  }
  resp::write_integer(ctx.out, removed);
}

void smembers(CommandContext& ctx) {
  bool wrong;
  SetValue* s = read_set(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (s == nullptr) return resp::write_array_header(ctx.out, 0);
  resp::write_array_header(ctx.out, static_cast<int64_t>(s->size()));
  s->for_each([&](std::string_view m) { resp::write_bulk(ctx.out, m); });
}

void sismember(CommandContext& ctx) {
  bool wrong;
  SetValue* s = read_set(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  resp::write_integer(ctx.out, s && s->contains(ctx.args[2]) ? 1 : 0);
}

void smismember(CommandContext& ctx) {
  bool wrong;
  SetValue* s = read_set(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  resp::write_array_header(ctx.out, static_cast<int64_t>(ctx.args.size() - 2));
  for (size_t i = 2; i < ctx.args.size(); ++i)
    resp::write_integer(ctx.out, s && s->contains(ctx.args[i]) ? 1 : 0);
}

void scard(CommandContext& ctx) {
  bool wrong;
  SetValue* s = read_set(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  resp::write_integer(ctx.out, s ? static_cast<int64_t>(s->size()) : 0);
}

// Shuffles the first n members of v into a uniform random choice (partial Fisher-Yates).
void choose(CommandContext& ctx, std::vector<std::string>& v, size_t n) {
  for (size_t i = 0; i < n && i < v.size(); ++i)
    std::swap(v[i], v[i + ks(ctx).next_random() % (v.size() - i)]);
}

void spop(CommandContext& ctx) {
  if (ctx.args.size() > 3) return error(ctx, kSyntaxError);
  bool has_count = ctx.args.size() == 3;
  int64_t count = 1;
  if (has_count) {
    auto c = count_arg(ctx, ctx.args[2]);
    if (!c) return;
    count = *c;
  }
  bool wrong;
  SetValue* s = write_set(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (s == nullptr) return has_count ? resp::write_array_header(ctx.out, 0) : resp::write_null(ctx.out);
  if (!has_count) {
    std::string m = s->random_member(ks(ctx).next_random());
    s->remove(m);
    resp::write_bulk(ctx.out, m);
    return after_write(ctx, ctx.args[1], s);
  }
  if (count == 0) return resp::write_array_header(ctx.out, 0);
  std::vector<std::string> members = all_members(s);
  size_t n = std::min(static_cast<size_t>(count), members.size());
  choose(ctx, members, n);
  members.resize(n);
  for (const auto& m : members) s->remove(m);
  write_members(ctx, members);
  after_write(ctx, ctx.args[1], s);
}

void srandmember(CommandContext& ctx) {
  if (ctx.args.size() > 3) return error(ctx, kSyntaxError);
  bool has_count = ctx.args.size() == 3;
  int64_t count = 1;
  if (has_count) {
    auto c = range_arg(ctx, ctx.args[2], -INT64_MAX, INT64_MAX, kNotInteger);
    if (!c) return;
    count = *c;
  }
  bool wrong;
  SetValue* s = read_set(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (s == nullptr) return has_count ? resp::write_array_header(ctx.out, 0) : resp::write_null(ctx.out);
  if (!has_count) return resp::write_bulk(ctx.out, s->random_member(ks(ctx).next_random()));
  if (count == 0) return resp::write_array_header(ctx.out, 0);
  std::vector<std::string> members = all_members(s);
  if (count < 0) {
    resp::write_array_header(ctx.out, -count);
    for (int64_t i = 0; i < -count; ++i)
      resp::write_bulk(ctx.out, members[ks(ctx).next_random() % members.size()]);
    return;
  }
  size_t n = std::min(static_cast<size_t>(count), members.size());
  choose(ctx, members, n);
  members.resize(n);
  write_members(ctx, members);
}

void smove(CommandContext& ctx) {
  std::string_view src = ctx.args[1], dst = ctx.args[2], m = ctx.args[3];
  // As smoveCommand: a missing source answers 0 before the types are checked.
  if (ks(ctx).lookup_write(ctx.client.db, src, ctx.now_ms) == nullptr)
    return resp::write_integer(ctx.out, 0);
  bool wrong;
  SetValue* s = write_set(ctx, src, &wrong);
  if (wrong) return;
  SetValue* d = write_set(ctx, dst, &wrong);
  if (wrong) return;
  if (src == dst) return resp::write_integer(ctx.out, s->contains(m) ? 1 : 0);
  if (!s->remove(m)) return resp::write_integer(ctx.out, 0);
  after_write(ctx, src, s);
  if (d == nullptr) d = ks(ctx).create<SetValue>(ctx.client.db, dst);
  d->add(m);
  ks(ctx).signal_modified(ctx.client.db, dst);
  resp::write_integer(ctx.out, 1);
}

enum class SetOp { kInter, kUnion, kDiff };

// Computes op over the sets at keys; false after WRONGTYPE. Missing keys are empty sets.
bool set_op(CommandContext& ctx, SetOp op, std::span<const std::string_view> keys,
            std::vector<std::string>* out, size_t limit = 0) {
  std::vector<SetValue*> sets;
  for (auto k : keys) {
    bool wrong;
    SetValue* s = read_set(ctx, k, &wrong);
    if (wrong) return false;
    sets.push_back(s);
  }
  if (op == SetOp::kInter) {
    for (SetValue* s : sets)
      if (s == nullptr) return true;
    SetValue* smallest = *std::min_element(sets.begin(), sets.end(),
                                           [](SetValue* a, SetValue* b) { return a->size() < b->size(); });
    smallest->for_each([&](std::string_view m) {
      if (limit != 0 && out->size() >= limit) return;
      for (SetValue* s : sets)
        if (s != smallest && !s->contains(m)) return;
      out->emplace_back(m);
    });
    return true;
  }
  if (op == SetOp::kUnion) {
    std::unordered_set<std::string> seen;
    for (SetValue* s : sets) {
      if (s == nullptr) continue;
      s->for_each([&](std::string_view m) {
        if (seen.emplace(m).second) out->emplace_back(m);
      });
    }
    return true;
  }
  if (sets[0] == nullptr) return true;
  sets[0]->for_each([&](std::string_view m) {
    for (size_t i = 1; i < sets.size(); ++i)
      if (sets[i] != nullptr && sets[i]->contains(m)) return;
    out->emplace_back(m);
  });
  return true;
}

void set_op_reply(CommandContext& ctx, SetOp op) {
  std::vector<std::string> result;
  if (!set_op(ctx, op, ctx.args.subspan(1), &result)) return;
  write_members(ctx, result);
}
void sinter(CommandContext& ctx) { set_op_reply(ctx, SetOp::kInter); }
void sunion(CommandContext& ctx) { set_op_reply(ctx, SetOp::kUnion); }
void sdiff(CommandContext& ctx) { set_op_reply(ctx, SetOp::kDiff); }

void set_op_store(CommandContext& ctx, SetOp op) {
  std::vector<std::string> result;
  if (!set_op(ctx, op, ctx.args.subspan(2), &result)) return;
  int db = ctx.client.db;
  std::string_view dst = ctx.args[1];
  bool existed = ks(ctx).remove(db, dst);
  if (!result.empty()) {
    SetValue* d = ks(ctx).create<SetValue>(db, dst);
    for (const auto& m : result) d->add(m);
  }
  if (existed || !result.empty()) ks(ctx).signal_modified(db, dst);
  resp::write_integer(ctx.out, static_cast<int64_t>(result.size()));
}
void sinterstore(CommandContext& ctx) { set_op_store(ctx, SetOp::kInter); }
void sunionstore(CommandContext& ctx) { set_op_store(ctx, SetOp::kUnion); }
void sdiffstore(CommandContext& ctx) { set_op_store(ctx, SetOp::kDiff); }

// SINTERCARD numkeys key [key ...] [LIMIT limit]
void sintercard(CommandContext& ctx) {
  auto numkeys = range_arg(ctx, ctx.args[1], 1, INT64_MAX, "ERR numkeys should be greater than 0");
  if (!numkeys) return;
  if (*numkeys > static_cast<int64_t>(ctx.args.size()) - 2)
    return error(ctx, "ERR Number of keys can't be greater than number of args");
  int64_t limit = 0;
  for (size_t j = 2 + static_cast<size_t>(*numkeys); j < ctx.args.size(); ++j) {
    if (is(ctx.args[j], "limit") && j + 1 < ctx.args.size()) {
      auto l = range_arg(ctx, ctx.args[++j], 0, INT64_MAX, "ERR LIMIT can't be negative");
      if (!l) return;
      limit = *l;
    } else {
      return error(ctx, kSyntaxError);
    }
  }
  std::vector<std::string> result;
  if (!set_op(ctx, SetOp::kInter, ctx.args.subspan(2, static_cast<size_t>(*numkeys)), &result,
              static_cast<size_t>(limit)))
    return;
  resp::write_integer(ctx.out, static_cast<int64_t>(result.size()));
}

// SSCAN key cursor [MATCH pattern] [COUNT count]: an intset whole, a hashtable in steps (see
// HSCAN).
void sscan(CommandContext& ctx) {
  ScanArgs a;
  if (!parse_scan_cursor(ctx, ctx.args[2], &a)) return;
  bool wrong;
  SetValue* s = read_set(ctx, ctx.args[1], &wrong);
  if (wrong || !parse_scan_options(ctx, 3, &a)) return;
  std::vector<std::string> found;
  uint64_t next = 0;
  size_t seen = 0;  // before MATCH filters, as Redis counts toward COUNT
  if (s != nullptr) {
    next = scan_steps(
        a,
        [&](uint64_t c) {
          return s->scan(c, [&](std::string_view m) {
            ++seen;
            if (!a.has_pattern || glob::match(a.pattern, m)) found.emplace_back(m);
          });
        },
        [&] { return seen; });
  }
  resp::write_array_header(ctx.out, 2);
  resp::write_bulk(ctx.out, std::to_string(next));
  write_members(ctx, found);
}

}  // namespace

void register_set_commands(HandlerRegistry& r) {
  r.add("sadd", sadd);
  r.add("srem", srem);
  r.add("smembers", smembers);
  r.add("sismember", sismember);
  r.add("smismember", smismember);
  r.add("scard", scard);
  r.add("spop", spop);
  r.add("srandmember", srandmember);
  r.add("smove", smove);
  r.add("sinter", sinter);
  r.add("sunion", sunion);
  r.add("sdiff", sdiff);
  r.add("sinterstore", sinterstore);
  r.add("sunionstore", sunionstore);
  r.add("sdiffstore", sdiffstore);
  r.add("sintercard", sintercard);
  r.add("sscan", sscan);
}

}  // namespace tiercache::l2
