// List commands: LPUSH/RPUSH(X), LPOP/RPOP, LRANGE, LLEN, LINDEX, LSET, LREM, LTRIM, LINSERT,
// LPOS, LMOVE, RPOPLPUSH, LMPOP and the blocking forms BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP
// (Redis 7.0's t_list.c replies and errors; the waiting itself is l2/blocking.h's).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "l2/blocking.h"
#include "l2/commands/typed.h"

namespace tiercache::l2 {
namespace {

using namespace cmd;

ListValue* read_list(CommandContext& ctx, std::string_view key, bool* wrong) {
  return lookup_object<ListValue>(ctx, key, false, false, wrong);
}
ListValue* write_list(CommandContext& ctx, std::string_view key, bool* wrong) {
  return lookup_object<ListValue>(ctx, key, true, false, wrong);
}

void push_generic(CommandContext& ctx, bool head, bool only_existing) {
  bool wrong;
  ListValue* l = write_list(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (l == nullptr) {
    if (only_existing) return resp::write_integer(ctx.out, 0);
    l = ks(ctx).create<ListValue>(ctx.client.db, ctx.args[1]);
  }
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    if (head)
      l->items().push_front(ctx.args[i]);
    else
      l->items().push_back(ctx.args[i]);
  }
  ks(ctx).signal_modified(ctx.client.db, ctx.args[1]);
  resp::write_integer(ctx.out, static_cast<int64_t>(l->size()));
}
void lpush(CommandContext& ctx) { push_generic(ctx, true, false); }
void rpush(CommandContext& ctx) { push_generic(ctx, false, false); }
void lpushx(CommandContext& ctx) { push_generic(ctx, true, true); }
void rpushx(CommandContext& ctx) { push_generic(ctx, false, true); }

// Pops up to n elements from one end of l and writes them as an array (LPOP with COUNT, LMPOP).
void pop_range_reply(CommandContext& ctx, ListValue* l, bool head, int64_t n) {
  size_t k = std::min(static_cast<size_t>(n), l->size());
  resp::write_array_header(ctx.out, static_cast<int64_t>(k));
  for (size_t i = 0; i < k; ++i) {
    if (head) {
      resp::write_bulk(ctx.out, l->items().front());
      l->items().pop_front();
    } else {
      resp::write_bulk(ctx.out, l->items().back());
      l->items().pop_back();
    }
  }
}

// Pops one element from one end of the non-empty l and writes it as a bulk string.
void pop_one_reply(CommandContext& ctx, ListValue* l, bool head) {
  QuickList& it = l->items();
  resp::write_bulk(ctx.out, head ? it.front() : it.back());
  if (head)
    it.pop_front();
  else
    it.pop_back();
}

void pop_generic(CommandContext& ctx, bool head) {
  if (ctx.args.size() > 3) return error(ctx, resp::wrong_arity_error(ctx.spec.name));
  bool has_count = ctx.args.size() == 3;
  int64_t count = 0;
  if (has_count) {
    auto c = count_arg(ctx, ctx.args[2]);
    if (!c) return;
    count = *c;
  }
  bool wrong;
  ListValue* l = write_list(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (l == nullptr) return has_count ? resp::write_null_array(ctx.out) : resp::write_null(ctx.out);
  if (has_count && count == 0) return resp::write_array_header(ctx.out, 0);
  if (!has_count) {
    pop_one_reply(ctx, l, head);
  } else {
    pop_range_reply(ctx, l, head, count);
  }
  after_write(ctx, ctx.args[1], l);
}
void lpop(CommandContext& ctx) { pop_generic(ctx, true); }
void rpop(CommandContext& ctx) { pop_generic(ctx, false); }

void lrange(CommandContext& ctx) {
  auto start = int_arg(ctx, ctx.args[2]);
  if (!start) return;
  auto stop = int_arg(ctx, ctx.args[3]);
  if (!stop) return;
  bool wrong;
  ListValue* l = read_list(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  size_t from, to;
  if (l == nullptr || !clamp_range(*start, *stop, l->size(), &from, &to))
    return resp::write_array_header(ctx.out, 0);
  resp::write_array_header(ctx.out, static_cast<int64_t>(to - from + 1));
  l->items().walk(from, true, [&](size_t i, std::string_view v) {
    resp::write_bulk(ctx.out, v);
    return i < to;
  });
}

void llen(CommandContext& ctx) {
  bool wrong;
  ListValue* l = read_list(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  resp::write_integer(ctx.out, l ? static_cast<int64_t>(l->size()) : 0);
}

// Normalizes a LINDEX/LSET index; false when out of range.
bool list_index(int64_t index, size_t n, size_t* out) {
  int64_t len = static_cast<int64_t>(n);
  if (index < 0) index += len;
  if (index < 0 || index >= len) return false;
  *out = static_cast<size_t>(index);
  return true;
}

void lindex(CommandContext& ctx) {
  bool wrong;
  ListValue* l = read_list(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (l == nullptr) return resp::write_null(ctx.out);
  auto index = int_arg(ctx, ctx.args[2]);
  if (!index) return;
  size_t i;
  if (l == nullptr || !list_index(*index, l->size(), &i)) return resp::write_null(ctx.out);
  resp::write_bulk(ctx.out, l->items().at(i));
}

void lset(CommandContext& ctx) {
  bool wrong;
  ListValue* l = write_list(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (l == nullptr) return error(ctx, "ERR no such key");
  auto index = int_arg(ctx, ctx.args[2]);
  if (!index) return;
  size_t i;
  if (!list_index(*index, l->size(), &i)) return error(ctx, "ERR index out of range");
  l->items().set(i, ctx.args[3]);
  ks(ctx).signal_modified(ctx.client.db, ctx.args[1]);
  resp::write_ok(ctx.out);
}

void lrem(CommandContext& ctx) {
  auto count = int_arg(ctx, ctx.args[2]);
  if (!count) return;
  bool wrong;
  ListValue* l = write_list(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (l == nullptr) return resp::write_integer(ctx.out, 0);
  QuickList& items = l->items();
  std::string_view v = ctx.args[3];
  int64_t limit = *count < 0 ? -*count : *count;  // 0: all
  // The matches' indexes first (in walking order), then removed from the tail end so earlier
  // indexes stay valid.
  std::vector<size_t> hits;
  bool forward = *count >= 0;
  items.walk(forward ? 0 : items.size() - 1, forward, [&](size_t i, std::string_view e) {
    if (e == v) hits.push_back(i);
    return limit == 0 || static_cast<int64_t>(hits.size()) < limit;
  });
  if (forward) std::reverse(hits.begin(), hits.end());
  for (size_t i : hits) items.erase(i, 1);
  int64_t removed = static_cast<int64_t>(hits.size());
  if (removed > 0) after_write(ctx, ctx.args[1], l);
  resp::write_integer(ctx.out, removed);
}

void ltrim(CommandContext& ctx) {
  auto start = int_arg(ctx, ctx.args[2]);
  if (!start) return;
  auto stop = int_arg(ctx, ctx.args[3]);
  if (!stop) return;
  bool wrong;
  ListValue* l = write_list(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (l == nullptr) return resp::write_ok(ctx.out);
  size_t from, to;
  QuickList& items = l->items();
  if (!clamp_range(*start, *stop, l->size(), &from, &to)) {
    items.clear();
  } else {
    items.erase(to + 1, items.size() - to - 1);
    items.erase(0, from);
  }
  after_write(ctx, ctx.args[1], l);
  resp::write_ok(ctx.out);
}

void linsert(CommandContext& ctx) {
  bool after;
  if (is(ctx.args[2], "after"))
    after = true;
  else if (is(ctx.args[2], "before"))
    after = false;
  else
    return error(ctx, kSyntaxError);
  bool wrong;
  ListValue* l = write_list(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (l == nullptr) return resp::write_integer(ctx.out, 0);
  QuickList& items = l->items();
  size_t pivot = SIZE_MAX;
  items.walk(0, true, [&](size_t i, std::string_view e) {
    if (e != ctx.args[3]) return true;
    pivot = i;
    return false;
  });
  if (pivot == SIZE_MAX) return resp::write_integer(ctx.out, -1);
  items.insert(after ? pivot + 1 : pivot, ctx.args[4]);
  ks(ctx).signal_modified(ctx.client.db, ctx.args[1]);
  resp::write_integer(ctx.out, static_cast<int64_t>(items.size()));
}

// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
void lpos(CommandContext& ctx) {
  int64_t rank = 1, count = -1, maxlen = 0;
  for (size_t j = 3; j < ctx.args.size(); ++j) {
    std::string_view opt = ctx.args[j];
    bool more = j + 1 < ctx.args.size();
    if (is(opt, "rank") && more) {
      auto r = int_arg(ctx, ctx.args[++j]);
      if (!r) return;
      if (*r == 0)
        return error(ctx,
                     "ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
                     "second ... or use negative to start from the end of the list");
      rank = *r;
    } else if (is(opt, "count") && more) {
      auto c = range_arg(ctx, ctx.args[++j], 0, INT64_MAX, "ERR COUNT can't be negative");
      if (!c) return;
      count = *c;
    } else if (is(opt, "maxlen") && more) {
      auto m = range_arg(ctx, ctx.args[++j], 0, INT64_MAX, "ERR MAXLEN can't be negative");
      if (!m) return;
      maxlen = *m;
    } else {
      return error(ctx, kSyntaxError);
    }
  }
  bool from_tail = rank < 0;
  if (from_tail) rank = rank == INT64_MIN ? INT64_MAX : -rank;
  bool wrong;
  ListValue* l = read_list(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (l == nullptr) return count != -1 ? resp::write_array_header(ctx.out, 0) : resp::write_null(ctx.out);
  const QuickList& items = l->items();
  size_t n = items.size();
  std::vector<int64_t> found;
  int64_t matches = 0, scanned = 0;
  items.walk(from_tail ? n - 1 : 0, !from_tail, [&](size_t pos, std::string_view e) {
    if (maxlen != 0 && scanned++ >= maxlen) return false;
    if (e != ctx.args[2]) return true;
    if (++matches < rank) return true;
    found.push_back(static_cast<int64_t>(pos));
    if (count == -1) return false;
    return !(count != 0 && matches - rank + 1 >= count);
  });
  if (count == -1) {
    if (found.empty()) return resp::write_null(ctx.out);
    return resp::write_integer(ctx.out, found[0]);
  }
  resp::write_array_header(ctx.out, static_cast<int64_t>(found.size()));
  for (int64_t p : found) resp::write_integer(ctx.out, p);
}

bool parse_side(CommandContext& ctx, std::string_view s, bool* head) {
  if (is(s, "left")) {
    *head = true;
  } else if (is(s, "right")) {
    *head = false;
  } else {
    error(ctx, kSyntaxError);
    return false;
  }
  return true;
}

void lmove_generic(CommandContext& ctx, std::string_view src, std::string_view dst,
                   bool from_head, bool to_head) {
  bool wrong;
  ListValue* s = write_list(ctx, src, &wrong);
  if (wrong) return;
  if (s == nullptr) return resp::write_null(ctx.out);
  ListValue* d = write_list(ctx, dst, &wrong);
  if (wrong) return;
  QuickList& si = s->items();
  Str value = make_str(from_head ? si.front() : si.back());
  if (from_head)
    si.pop_front();
  else
    si.pop_back();
  if (d == nullptr) {
    if (src == dst) {
      d = s;  // a one-element list rotated onto itself
    } else {
      d = ks(ctx).create<ListValue>(ctx.client.db, dst);
    }
  }
  resp::write_bulk(ctx.out, value);
  if (to_head)
    d->items().push_front(value);
  else
    d->items().push_back(value);
  ks(ctx).signal_modified(ctx.client.db, dst);
  if (src != dst) after_write(ctx, src, s);
}

void lmove(CommandContext& ctx) {
  bool from_head = false, to_head = false;
  if (!parse_side(ctx, ctx.args[3], &from_head) || !parse_side(ctx, ctx.args[4], &to_head))
    return;
  lmove_generic(ctx, ctx.args[1], ctx.args[2], from_head, to_head);
}
void rpoplpush(CommandContext& ctx) { lmove_generic(ctx, ctx.args[1], ctx.args[2], false, true); }

void pop_with_key(CommandContext& ctx, std::string_view key, ListValue* l, bool head,
                  int64_t count);

// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
void lmpop(CommandContext& ctx) {
  MpopArgs m;
  if (!parse_mpop_args(ctx, 1, "left", "right", &m)) return;
  for (size_t k = m.first_key; k < m.end_key; ++k) {
    bool wrong;
    ListValue* l = write_list(ctx, ctx.args[k], &wrong);
    if (wrong) return;
    if (l == nullptr) continue;
    return pop_with_key(ctx, ctx.args[k], l, !m.second_word, m.count);
  }
  resp::write_null_array(ctx.out);
}

// -- blocking forms ----------------------------------------------------------------------------

// BLPOP/BRPOP's [key, element], or (count >= 0) LMPOP's [key, [elements]], from the non-empty l.
void pop_with_key(CommandContext& ctx, std::string_view key, ListValue* l, bool head,
                  int64_t count) {
  resp::write_array_header(ctx.out, 2);
  resp::write_bulk(ctx.out, key);
  if (count >= 0)
    pop_range_reply(ctx, l, head, count);
  else
    pop_one_reply(ctx, l, head);
  after_write(ctx, key, l);
}

void serve_pop(CommandContext& ctx, const BlockedOp& op, std::string_view key) {
  bool wrong;
  ListValue* l = write_list(ctx, key, &wrong);
  pop_with_key(ctx, key, l, op.from_head, op.count);
}

void serve_move(CommandContext& ctx, const BlockedOp& op, std::string_view key) {
  lmove_generic(ctx, key, op.target, op.from_head, op.to_head);
}

// BLPOP/BRPOP key [key ...] timeout; BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT n].
void blocking_pop(CommandContext& ctx, std::span<const std::string_view> keys,
                  std::string_view timeout, bool head, int64_t count) {
  BlockedOp op;
  op.from_head = head;
  op.count = count;
  op.serve = serve_pop;
  pop_now_or_block<ListValue>(ctx, keys, timeout, std::move(op));
}
void blpop(CommandContext& ctx) {
  blocking_pop(ctx, ctx.args.subspan(1, ctx.args.size() - 2), ctx.args.back(), true, -1);
}
void brpop(CommandContext& ctx) {
  blocking_pop(ctx, ctx.args.subspan(1, ctx.args.size() - 2), ctx.args.back(), false, -1);
}
void blmpop(CommandContext& ctx) {
  MpopArgs m;
  if (!parse_mpop_args(ctx, 2, "left", "right", &m)) return;
  blocking_pop(ctx, ctx.args.subspan(m.first_key, m.end_key - m.first_key), ctx.args[1],
               !m.second_word, m.count);
}

// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout; BRPOPLPUSH source destination timeout.
void blocking_move(CommandContext& ctx, bool from_head, bool to_head, std::string_view timeout) {
  TimeoutArg t = parse_timeout(timeout, ctx.now_ms);
  if (!t.error.empty()) return error(ctx, t.error);
  bool wrong;
  ListValue* l = write_list(ctx, ctx.args[1], &wrong);
  if (wrong) return;
  if (l != nullptr) return lmove_generic(ctx, ctx.args[1], ctx.args[2], from_head, to_head);
  if (!may_block(ctx)) return resp::write_null(ctx.out);  // blmoveGenericCommand's addReplyNull
  BlockedOp op;
  op.target = std::string(ctx.args[2]);
  op.has_target = true;
  op.from_head = from_head;
  op.to_head = to_head;
  op.deadline_ms = t.deadline_ms;
  op.serve = serve_move;
  block_or_nil(ctx, ctx.args.subspan(1, 1), std::move(op));
}
void blmove(CommandContext& ctx) {
  bool from_head = false, to_head = false;
  if (!parse_side(ctx, ctx.args[3], &from_head) || !parse_side(ctx, ctx.args[4], &to_head))
    return;
  blocking_move(ctx, from_head, to_head, ctx.args[5]);
}
void brpoplpush(CommandContext& ctx) { blocking_move(ctx, false, true, ctx.args[3]); }

}  // namespace

void register_list_commands(HandlerRegistry& r) {
  r.add("lpush", lpush);
  r.add("rpush", rpush);
  r.add("lpushx", lpushx);
  r.add("rpushx", rpushx);
  r.add("lpop", lpop);
  r.add("rpop", rpop);
  r.add("lrange", lrange);
  r.add("llen", llen);
  r.add("lindex", lindex);
  r.add("lset", lset);
  r.add("lrem", lrem);
  r.add("ltrim", ltrim);
  r.add("linsert", linsert);
  r.add("lpos", lpos);
  r.add("lmove", lmove);
  r.add("rpoplpush", rpoplpush);
  r.add("lmpop", lmpop);
  r.add("blpop", blpop);
  r.add("brpop", brpop);
  r.add("blmpop", blmpop);
  r.add("blmove", blmove);
  r.add("brpoplpush", brpoplpush);
}

}  // namespace tiercache::l2
