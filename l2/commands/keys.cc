// Keyspace commands: DEL, EXISTS, TYPE, OBJECT, MEMORY, RENAME, COPY, MOVE, the EXPIRE family, TTL, KEYS, SCAN,
// RANDOMKEY, FLUSHDB, FLUSHALL.
#include <malloc.h>

#include "l2/commands/typed.h"
#include "shared/glob/glob.h"

namespace tiercache::l2 {
namespace {

using namespace cmd;


void del(CommandContext& ctx) {
  int64_t n = 0;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    if (ks(ctx).lookup_write(ctx.client.db, ctx.args[i], ctx.now_ms)) {
      ks(ctx).remove(ctx.client.db, ctx.args[i]);
      ++n;
    }
  }
  resp::write_integer(ctx.out, n);
}

void exists(CommandContext& ctx) {
  int64_t n = 0;
  for (size_t i = 1; i < ctx.args.size(); ++i)
    if (ks(ctx).lookup_write(ctx.client.db, ctx.args[i], ctx.now_ms)) ++n;
  resp::write_integer(ctx.out, n);
}

void touch(CommandContext& ctx) {
  int64_t n = 0;
  for (size_t i = 1; i < ctx.args.size(); ++i)
    if (ks(ctx).lookup_read(ctx.client.db, ctx.args[i], ctx.now_ms)) ++n;
  resp::write_integer(ctx.out, n);
}

void type(CommandContext& ctx) {
  Entry* e = ks(ctx).lookup_write(ctx.client.db, ctx.args[1], ctx.now_ms);
  resp::write_simple(ctx.out, e ? type_name(static_cast<ValueType>(e->type)) : "none");
}

// Whether Redis 7.0 would hold this value as one of its shared integer objects (0..9999, unless
// an LRU policy bounds memory): OBJECT REFCOUNT then answers INT_MAX. Modelled on the value, so
// an integer made by APPEND or COPY counts as shared here (Redis gives those a private object).
bool shared_integer(CommandContext& ctx, const Entry* e) {
  int64_t n;
  if (!e->is_string() || !strict_int64(e->value(), &n) || n < 0 || n >= 10000) return false;
  const Config& c = ctx.server.config();
  bool lru = c.maxmemory_policy == EvictionPolicy::kAllKeysLru ||
             c.maxmemory_policy == EvictionPolicy::kVolatileLru;
  return c.maxmemory == 0 || !lru;
}

// OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key, OBJECT HELP
void object(CommandContext& ctx) {
  if (ctx.args.size() == 2 && is(ctx.args[1], "help"))
    return help_reply(ctx, {"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                            "ENCODING <key>",
                            "    Return the kind of internal representation used in order to store the value",
                            "    associated with a <key>.",
                            "FREQ <key>",
                            "    Return the access frequency index of the <key>. The returned integer is",
                            "    proportional to the logarithm of the recent access frequency of the key.",
                            "IDLETIME <key>",
                            "    Return the idle time of the <key>, that is the approximated number of",
                            "    seconds elapsed since the last access to the key.",
                            "REFCOUNT <key>",
                            "    Return the number of references of the value associated with the specified",
                            "    <key>.",
                            "HELP",
                            "    Prints this help."});
  std::string_view sub = ctx.args[1];
  bool known = is(sub, "encoding") || is(sub, "refcount") || is(sub, "idletime") || is(sub, "freq");
  if (!known || ctx.args.size() != 3) return subcommand_error(ctx, {"encoding", "refcount", "idletime", "freq", "help"});
  Entry* e = ks(ctx).lookup_write(ctx.client.db, ctx.args[2], ctx.now_ms);
  if (e == nullptr) return resp::write_null(ctx.out);
  if (is(sub, "refcount")) return resp::write_integer(ctx.out, shared_integer(ctx, e) ? INT32_MAX : 1);
  if (is(sub, "freq"))
    return error(ctx, "ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
                      "Please note that when switching between policies at runtime LRU and LFU "
                      "data will take some time to adjust.");
  if (is(sub, "idletime"))
    return resp::write_integer(ctx.out, static_cast<uint32_t>(ks(ctx).lru_clock() - e->lru) / 1000);
  if (e->is_string()) {
    std::string_view v = e->value();
    int64_t n;
    bool as_int = v.size() <= 20 && strict_int64(v, &n);
    return resp::write_bulk(ctx.out, as_int ? "int" : v.size() <= 44 ? "embstr" : "raw");
  }
  resp::write_bulk(ctx.out, value_encoding(static_cast<ValueType>(e->type), e->object<void>()));
}

// MEMORY USAGE key [SAMPLES n], MEMORY PURGE, MEMORY MALLOC-STATS, MEMORY HELP. USAGE counts
// the key's entry (header, key and a string's value, as malloc sized it), its slot in the db's
// table and a typed value's estimate (value_memory.cc: exact for listpack and intset, sampled
// for the general encodings; 5 samples by default, 0 for all). Like Redis it finds the key
// without expiring it. DOCTOR and STATS are not implemented (INFO memory has the figures).
void memory(CommandContext& ctx) {
  std::string_view sub = ctx.args[1];
  const size_t argc = ctx.args.size();
  if (is(sub, "help") && argc == 2)
    return help_reply(ctx, {"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                            "MALLOC-STATS",
                            "    Return internal statistics report from the memory allocator.",
                            "PURGE",
                            "    Attempt to purge dirty pages for reclamation by the allocator.",
                            "USAGE <key> [SAMPLES <count>]",
                            "    Return memory in bytes used by <key> and its value. Nested values are",
                            "    sampled up to <count> times (default: 5, 0 means sample all).",
                            "HELP",
                            "    Prints this help."});
  if (is(sub, "usage") && argc >= 3) {
    int64_t samples = 5;
    for (size_t j = 3; j < argc; ++j) {
      if (!is(ctx.args[j], "samples") || j + 1 >= argc) return error(ctx, kSyntaxError);
      auto n = int_arg(ctx, ctx.args[++j]);
      if (!n) return;
      if (*n < 0) return error(ctx, kSyntaxError);
      samples = *n == 0 ? INT64_MAX : *n;
    }
    const Entry* e = ks(ctx).peek(ctx.client.db, ctx.args[2]);
    if (e == nullptr) return resp::write_null(ctx.out);
    size_t usage = malloc_usable_size(const_cast<Entry*>(e)) + sizeof(size_t) + sizeof(Entry*);
    if (!e->is_string())
      usage += value_memory_usage(static_cast<ValueType>(e->type), e->object<void>(),
                                  static_cast<size_t>(samples));
    return resp::write_integer(ctx.out, static_cast<int64_t>(usage));
  }
  if (is(sub, "purge") && argc == 2) {
    malloc_trim(0);
    return resp::write_ok(ctx.out);
  }
  if (is(sub, "malloc-stats") && argc == 2)
    return resp::write_bulk(ctx.out, "Stats not supported for the current allocator");
  if ((is(sub, "doctor") || is(sub, "stats")) && argc == 2)
    return error(ctx, "ERR tiercache-l2 does not implement MEMORY " + std::string(sub) +
                          " (INFO memory has the figures)");
  subcommand_error(ctx, {"usage", "help", "purge", "malloc-stats", "doctor", "stats"});
}

// Returns 1 when renamed, 0 when NX refused it, -1 after writing an error.
int rename_generic(CommandContext& ctx, bool nx) {
  int db = ctx.client.db;
  std::string_view from = ctx.args[1], to = ctx.args[2];
  Entry* e = ks(ctx).lookup_write(db, from, ctx.now_ms);
  if (!e) {
    error(ctx, "ERR no such key");
    return -1;
  }
  if (from == to) return nx ? 0 : 1;
  if (nx && ks(ctx).lookup_write(db, to, ctx.now_ms)) return 0;
  ks(ctx).rename(db, e, to);
  return 1;
}

// A db index argument as Redis's getIntFromObjectOrReply and selectDb check it.
std::optional<int> db_arg(CommandContext& ctx, std::string_view arg) {
  auto v = util::parse_int64(arg);
  if (!v) {
    error(ctx, kNotInteger);
    return std::nullopt;
  }
  if (*v < INT32_MIN || *v > INT32_MAX) {
    error(ctx, "ERR value is out of range, value must between -2147483648 and 2147483647");
    return std::nullopt;
  }
  if (*v < 0 || *v >= ks(ctx).num_dbs()) {
    error(ctx, "ERR DB index is out of range");
    return std::nullopt;
  }
  return static_cast<int>(*v);
}

constexpr std::string_view kSameObject = "ERR source and destination objects are the same";

// COPY source destination [DB destination-db] [REPLACE]. The server dirties WATCHes on both
// key positions in the client's db; a copy into another db dirties the destination there too.
void copy(CommandContext& ctx) {
  const int db = ctx.client.db;
  int dst_db = db;
  bool replace = false;
  for (size_t j = 3; j < ctx.args.size(); ++j) {
    if (is(ctx.args[j], "replace")) {
      replace = true;
    } else if (is(ctx.args[j], "db") && j + 1 < ctx.args.size()) {
      auto d = db_arg(ctx, ctx.args[++j]);
      if (!d) return;
      dst_db = *d;
    } else {
      return error(ctx, kSyntaxError);
    }
  }
  std::string_view from = ctx.args[1], to = ctx.args[2];
  if (db == dst_db && from == to) return error(ctx, kSameObject);
  Entry* e = ks(ctx).lookup_read(db, from, ctx.now_ms);
  if (e == nullptr) return resp::write_integer(ctx.out, 0);
  if (ks(ctx).lookup_write(dst_db, to, ctx.now_ms) != nullptr && !replace)
    return resp::write_integer(ctx.out, 0);
  ks(ctx).copy(e, dst_db, to);
  if (dst_db != db) ctx.server.touch_key(dst_db, to);
  resp::write_integer(ctx.out, 1);
}

// MOVE key db
void move(CommandContext& ctx) {
  const int db = ctx.client.db;
  auto dst_db = db_arg(ctx, ctx.args[2]);
  if (!dst_db) return;
  if (*dst_db == db) return error(ctx, kSameObject);
  Entry* e = ks(ctx).lookup_write(db, ctx.args[1], ctx.now_ms);
  if (e == nullptr || ks(ctx).lookup_write(*dst_db, ctx.args[1], ctx.now_ms) != nullptr)
    return resp::write_integer(ctx.out, 0);
  ks(ctx).move(db, e, *dst_db);
  ctx.server.touch_key(*dst_db, ctx.args[1]);
  resp::write_integer(ctx.out, 1);
}

void rename(CommandContext& ctx) {
  if (rename_generic(ctx, false) >= 0) resp::write_ok(ctx.out);
}
void renamenx(CommandContext& ctx) {
  int r = rename_generic(ctx, true);
  if (r >= 0) resp::write_integer(ctx.out, r);
}

// EXPIRE key t [NX|XX|GT|LT] and its variants.
void expire_generic(CommandContext& ctx, int64_t unit, bool absolute) {
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t i = 3; i < ctx.args.size(); ++i) {
    std::string_view a = ctx.args[i];
    if (is(a, "nx"))
      nx = true;
    else if (is(a, "xx"))
      xx = true;
    else if (is(a, "gt"))
      gt = true;
    else if (is(a, "lt"))
      lt = true;
    else
      return error(ctx, "ERR Unsupported option " + std::string(a));
  }
  if (nx && (xx || gt || lt))
    return error(ctx, "ERR NX and XX, GT or LT options at the same time are not compatible");
  if (gt && lt) return error(ctx, "ERR GT and LT options at the same time are not compatible");
  int64_t when = 0;
  if (!expire_at_ms(ctx, ctx.args[2], unit, absolute, true, &when)) return;
  int db = ctx.client.db;
  Entry* e = ks(ctx).lookup_write(db, ctx.args[1], ctx.now_ms);
  if (!e) return resp::write_integer(ctx.out, 0);
  int64_t current = e->expire_at;  // 0 = persistent, i.e. infinite
  if ((nx && current != 0) || (xx && current == 0) || (gt && (current == 0 || when <= current)) ||
      (lt && current != 0 && when >= current))
    return resp::write_integer(ctx.out, 0);
  if (when <= ctx.now_ms)
    ks(ctx).remove(db, ctx.args[1]);
  else
    ks(ctx).set_expire(db, e, when);
  resp::write_integer(ctx.out, 1);
}

void expire(CommandContext& ctx) { expire_generic(ctx, 1000, false); }
void pexpire(CommandContext& ctx) { expire_generic(ctx, 1, false); }
void expireat(CommandContext& ctx) { expire_generic(ctx, 1000, true); }
void pexpireat(CommandContext& ctx) { expire_generic(ctx, 1, true); }

void ttl_generic(CommandContext& ctx, bool ms, bool absolute) {
  Entry* e = ks(ctx).lookup_write(ctx.client.db, ctx.args[1], ctx.now_ms);
  if (!e) return resp::write_integer(ctx.out, -2);
  if (e->expire_at == 0) return resp::write_integer(ctx.out, -1);
  if (absolute) return resp::write_integer(ctx.out, ms ? e->expire_at : e->expire_at / 1000);
  int64_t left = e->expire_at - ctx.now_ms;
  if (left < 0) left = 0;
  resp::write_integer(ctx.out, ms ? left : (left + 500) / 1000);
}
void ttl(CommandContext& ctx) { ttl_generic(ctx, false, false); }
void pttl(CommandContext& ctx) { ttl_generic(ctx, true, false); }
void expiretime(CommandContext& ctx) { ttl_generic(ctx, false, true); }
void pexpiretime(CommandContext& ctx) { ttl_generic(ctx, true, true); }

void persist(CommandContext& ctx) {
  Entry* e = ks(ctx).lookup_write(ctx.client.db, ctx.args[1], ctx.now_ms);
  if (!e || e->expire_at == 0) return resp::write_integer(ctx.out, 0);
  ks(ctx).set_expire(ctx.client.db, e, 0);
  resp::write_integer(ctx.out, 1);
}

void keys(CommandContext& ctx) {
  std::string_view pattern = ctx.args[1];
  int db = ctx.client.db;
  std::vector<std::string_view> found;
  bool all = pattern == "*";
  uint64_t cursor = 0;
  do {
    cursor = ks(ctx).scan(db, cursor, [&](Entry* e) {
      if (e->expire_at != 0 && e->expire_at <= ctx.now_ms) return;
      if (all || glob::match(pattern, e->key())) found.push_back(e->key());
    });
  } while (cursor != 0);
  resp::write_array_header(ctx.out, static_cast<int64_t>(found.size()));
  for (auto k : found) resp::write_bulk(ctx.out, k);
}

// SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]
void scan(CommandContext& ctx) {
  ScanArgs a;
  if (!parse_scan_cursor(ctx, ctx.args[1], &a)) return;
  if (!parse_scan_options(ctx, 2, &a, /*allow_type=*/true)) return;
  bool any_type = a.type.empty();
  int db = ctx.client.db;
  std::vector<Entry*> batch;
  uint64_t cursor = scan_steps(
      a, [&](uint64_t c) { return ks(ctx).scan(db, c, [&](Entry* e) { batch.push_back(e); }); },
      [&] { return batch.size(); });
  std::vector<std::string_view> keys;
  for (Entry* e : batch) {
    if (e->expire_at != 0 && e->expire_at <= ctx.now_ms) continue;
    if (a.has_pattern && !glob::match(a.pattern, e->key())) continue;
    if (!any_type && !is(a.type, type_name(static_cast<ValueType>(e->type)))) continue;
    keys.push_back(e->key());
  }
  resp::write_array_header(ctx.out, 2);
  resp::write_bulk(ctx.out, std::to_string(cursor));
  resp::write_array_header(ctx.out, static_cast<int64_t>(keys.size()));
  for (auto k : keys) resp::write_bulk(ctx.out, k);
}

void randomkey(CommandContext& ctx) {
  int db = ctx.client.db;
  for (int attempt = 0; attempt < 100; ++attempt) {
    Entry* e = ks(ctx).random_entry(db);
    if (!e) break;
    if (e->expire_at != 0 && e->expire_at <= ctx.now_ms) {
      std::string key(e->key());
      ks(ctx).lookup_write(db, key, ctx.now_ms);  // expires it
      continue;
    }
    return resp::write_bulk(ctx.out, e->key());
  }
  resp::write_null(ctx.out);
}

bool flush_mode_ok(CommandContext& ctx) {
  if (ctx.args.size() > 2) return false;
  if (ctx.args.size() == 2 && !is(ctx.args[1], "async") && !is(ctx.args[1], "sync")) return false;
  return true;
}

// ASYNC and SYNC both free at once: the event loop frees ~10M small entries per second.
void flushdb(CommandContext& ctx) {
  if (!flush_mode_ok(ctx)) return error(ctx, kSyntaxError);
  ks(ctx).flush_db(ctx.client.db);
  resp::write_ok(ctx.out);
}

void flushall(CommandContext& ctx) {
  if (!flush_mode_ok(ctx)) return error(ctx, kSyntaxError);
  ks(ctx).flush_all();
  resp::write_ok(ctx.out);
}

}  // namespace

void register_key_commands(HandlerRegistry& r) {
  r.add("del", del);
  r.add("unlink", del);
  r.add("exists", exists);
  r.add("touch", touch);
  r.add("type", type);
  r.add("object", object);
  r.add("memory", memory);
  r.add("rename", rename);
  r.add("renamenx", renamenx);
  r.add("copy", copy);
  r.add("move", move);
  r.add("expire", expire);
  r.add("pexpire", pexpire);
  r.add("expireat", expireat);
  r.add("pexpireat", pexpireat);
  r.add("ttl", ttl);
  r.add("pttl", pttl);
  r.add("expiretime", expiretime);
  r.add("pexpiretime", pexpiretime);
  r.add("persist", persist);
  r.add("keys", keys);
  r.add("scan", scan);
  r.add("randomkey", randomkey);
  r.add("flushdb", flushdb);
  r.add("flushall", flushall);
}

}  // namespace tiercache::l2
