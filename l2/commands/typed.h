// Helpers shared by the handlers of typed values (hashes, lists, sets, sorted sets): lookups that
// answer WRONGTYPE, creation on first write, removal of emptied keys, and reply formats.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <optional>
#include <string_view>

#include "l2/blocking.h"
#include "l2/commands/common.h"
#include "l2/keyspace/values.h"

namespace tiercache::l2::cmd {

inline constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

inline Keyspace& ks(CommandContext& ctx) { return ctx.server.keyspace(); }

// The live entry of `key` if it holds type t (nullptr when missing). When it holds another type,
// writes WRONGTYPE and returns nullopt. `write` skips the hit/miss statistics (as Redis's
// lookupKeyWrite).
inline std::optional<Entry*> lookup_typed(CommandContext& ctx, std::string_view key, ValueType t,
                                          bool write) {
  Entry* e = write ? ks(ctx).lookup_write(ctx.client.db, key, ctx.now_ms)
                   : ks(ctx).lookup_read(ctx.client.db, key, ctx.now_ms);
  if (e != nullptr && e->type != static_cast<uint8_t>(t)) {
    error(ctx, kWrongType);
    return std::nullopt;
  }
  return e;
}

// The object of type T at key: nullptr (reply written) on WRONGTYPE, a new empty one when the
// key is missing and create is true, nullptr without a reply when missing and !create.
template <class T>
T* lookup_object(CommandContext& ctx, std::string_view key, bool write, bool create,
                 bool* wrong) {
  auto e = lookup_typed(ctx, key, TypeOf<T>::value, write);
  *wrong = !e.has_value();
  if (!e) return nullptr;
  if (*e != nullptr) return (*e)->template object<T>();
  if (!create) return nullptr;
  return ks(ctx).create<T>(ctx.client.db, key);
}

// After a write to a collection: deletes the key when it is empty, else signals the change.
template <class T>
void after_write(CommandContext& ctx, std::string_view key, const T* obj) {
  if (obj->size() == 0)
    ks(ctx).remove(ctx.client.db, key);
  else
    ks(ctx).signal_modified(ctx.client.db, key);
}

// Redis 7.0's double reply (addReplyDouble: "%.17g", inf/-inf).
inline void write_double(std::string& out, double d) {
  if (std::isinf(d)) return resp::write_bulk(out, d > 0 ? "inf" : "-inf");
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%.17g", d);
  resp::write_bulk(out, std::string_view(buf, static_cast<size_t>(n)));
}

// Parses a double as Redis's getDoubleFromObject (strtod, no spaces, not NaN); "inf" allowed.
inline std::optional<double> parse_double(std::string_view s) {
  if (s.empty() || s.size() > 256 || isspace(static_cast<unsigned char>(s[0]))) return std::nullopt;
  char buf[260];
  memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  char* end;
  errno = 0;
  double v = strtod(buf, &end);
  if (end != buf + s.size() || std::isnan(v)) return std::nullopt;
  if (errno == ERANGE && (std::isinf(v) || v == 0)) return std::nullopt;
  return v;
}

// Converts a Redis start/stop index pair into a clamped [from, to] range over n items; false
// when the range is empty.
inline bool clamp_range(int64_t start, int64_t stop, size_t n, size_t* from, size_t* to) {
  int64_t len = static_cast<int64_t>(n);
  if (start < 0) start += len;
  if (stop < 0) stop += len;
  if (start < 0) start = 0;
  if (start > stop || start >= len) return false;
  if (stop >= len) stop = len - 1;
  *from = static_cast<size_t>(start);
  *to = static_cast<size_t>(stop);
  return true;
}

// An integer in [min, max]; otherwise `msg` (Redis's getRangeLongFromObjectOrReply with a
// message: the same text for a non-integer and for one out of range).
inline std::optional<int64_t> range_arg(CommandContext& ctx, std::string_view s, int64_t min,
                                        int64_t max, std::string_view msg) {
  auto v = util::parse_int64(s);
  if (!v || *v < min || *v > max) {
    error(ctx, msg);
    return std::nullopt;
  }
  return v;
}

// COUNT-style argument: a non-negative integer, else Redis's "must be positive" error.
inline std::optional<int64_t> count_arg(CommandContext& ctx, std::string_view s) {
  return range_arg(ctx, s, 0, INT64_MAX, "ERR value is out of range, must be positive");
}

// LMPOP/ZMPOP arguments from args[at]: numkeys key [key ...] WORD1|WORD2 [COUNT count].
struct MpopArgs {
  size_t first_key = 0, end_key = 0;  // keys are args[first_key .. end_key)
  bool second_word = false;           // WORD2 (RIGHT, MAX) was given
  int64_t count = 1;
};
// Writes Redis's error and returns false when invalid.
bool parse_mpop_args(CommandContext& ctx, size_t at, std::string_view word1,
                     std::string_view word2, MpopArgs* out);

// The SCAN-family arguments after the cursor: MATCH pattern, COUNT n (and, for SCAN, TYPE).
struct ScanArgs {
  uint64_t cursor = 0;
  std::string_view pattern;
  bool has_pattern = false;
  int64_t count = 10;
  std::string_view type;  // SCAN's TYPE, empty for any
};
// HSCAN/SSCAN/ZSCAN check the cursor, then the key's type, then the options from args[first]
// (as Redis does); each writes the error and returns false on failure. TYPE is accepted only
// with allow_type (SCAN).
bool parse_scan_cursor(CommandContext& ctx, std::string_view cursor, ScanArgs* out);
bool parse_scan_options(CommandContext& ctx, size_t first, ScanArgs* out,
                        bool allow_type = false);

// The loop of Redis's scanGenericCommand: calls step(cursor) -> next cursor from a.cursor until
// the walk ends (0), collected() reaches a.count, or a.count * 10 steps were taken (so a sparse
// table cannot make one reply slow). Returns the cursor to reply.
template <class Step, class Collected>
uint64_t scan_steps(const ScanArgs& a, Step&& step, Collected&& collected) {
  uint64_t cursor = a.cursor;
  int64_t max_steps = a.count > INT64_MAX / 10 ? INT64_MAX : a.count * 10;
  do {
    cursor = step(cursor);
  } while (cursor != 0 && --max_steps > 0 && static_cast<int64_t>(collected()) < a.count);
  return cursor;
}

// BLPOP, BZPOPMIN & co: the first of keys that holds a T is served at once, by the same
// op.serve a blocked client would get; a key of another type answers WRONGTYPE; when none holds
// one, the client blocks until op.deadline (or, in MULTI and scripts, gets nil).
template <class T>
void pop_now_or_block(CommandContext& ctx, std::span<const std::string_view> keys,
                      std::string_view timeout, BlockedOp op) {
  TimeoutArg t = parse_timeout(timeout, ctx.now_ms);
  if (!t.error.empty()) return error(ctx, t.error);
  for (std::string_view key : keys) {
    bool wrong;
    T* v = lookup_object<T>(ctx, key, true, false, &wrong);
    if (wrong) return;
    if (v != nullptr) return op.serve(ctx, op, key);
  }
  op.type = TypeOf<T>::value;
  op.deadline_ms = t.deadline_ms;
  block_or_nil(ctx, keys, std::move(op));
}

}  // namespace tiercache::l2::cmd
