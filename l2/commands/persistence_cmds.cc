// Persistence commands: SAVE, BGSAVE, LASTSAVE, SHUTDOWN (l2/persistence/snapshots.h does the
// work) and DUMP/RESTORE (the RDB object codec of l2/persistence/rdb_object.h), with Redis
// 7.0's replies and error texts.
#include "l2/commands/typed.h"
#include "l2/persistence/rdb_object.h"
#include "l2/persistence/snapshots.h"
#include "l2/scripting/lua_engine.h"

namespace tiercache::l2 {
namespace {

using namespace cmd;
using persistence::Snapshots;

void save(CommandContext& ctx) {
  Snapshots& snap = ctx.server.snapshots();
  if (snap.child_running()) return error(ctx, "ERR Background save already in progress");
  std::string why;
  if (!snap.save(ctx.now_ms, ctx.server.used_memory(), &why)) return error(ctx, "ERR");
  resp::write_ok(ctx.out);
}

void bgsave(CommandContext& ctx) {
  bool schedule = false;
  if (ctx.args.size() > 1) {
    if (ctx.args.size() == 2 && is(ctx.args[1], "schedule")) schedule = true;
    else return error(ctx, kSyntaxError);
  }
  // As Redis 7.0: SCHEDULE only matters while a child of another kind runs (none here); a
  // running BGSAVE is an error either way; inside EXEC the save is scheduled for after it.
  (void)schedule;
  Snapshots& snap = ctx.server.snapshots();
  if (snap.child_running()) return error(ctx, "ERR Background save already in progress");
  if (ctx.server.nested()) {
    snap.schedule();
    return resp::write_simple(ctx.out, "Background saving scheduled");
  }
  if (snap.bgsave(ctx.now_ms, ctx.server.used_memory()) != Snapshots::Bg::kStarted)
    return error(ctx, "ERR");
  resp::write_simple(ctx.out, "Background saving started");
}

void lastsave(CommandContext& ctx) {
  resp::write_integer(ctx.out, ctx.server.snapshots().last_save_unix());
}

// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. No replicas here, so NOW changes nothing;
// FORCE goes on when the final save fails.
void shutdown(CommandContext& ctx) {
  bool nosave = false, save = false, force = false, abort = false;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    std::string_view a = ctx.args[i];
    if (is(a, "nosave")) nosave = true;
    else if (is(a, "save")) save = true;
    else if (is(a, "now")) continue;
    else if (is(a, "force")) force = true;
    else if (is(a, "abort")) abort = true;
    else return error(ctx, kSyntaxError);
  }
  if ((abort && ctx.args.size() != 2) || (nosave && save)) return error(ctx, kSyntaxError);
  if (abort) return error(ctx, "ERR No shutdown in progress.");
  // While a script is busy, only a shutdown that loses the data it may be half-way through.
  if (!nosave && ctx.server.lua().timed_out()) return error(ctx, scripting::kBusyError);
  std::string why;
  if (!ctx.server.snapshots().shutdown_save(ctx.now_ms, ctx.server.used_memory(), save, nosave,
                                            &why) &&
      !force)
    return error(ctx, "ERR Errors trying to SHUTDOWN. Check logs.");
  ctx.server.shutdown();  // closes every client: SHUTDOWN has no reply
}

void dump(CommandContext& ctx) {
  Entry* e = ks(ctx).lookup_read(ctx.client.db, ctx.args[1], ctx.now_ms);
  if (e == nullptr) return resp::write_null(ctx.out);
  resp::write_bulk(ctx.out, persistence::dump_payload(*e));
}

// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency], checked in
// Redis's order (options, BUSYKEY, ttl, payload).
void restore(CommandContext& ctx) {
  bool replace = false, absttl = false;
  int64_t idle = -1, freq = -1;
  for (size_t j = 4; j < ctx.args.size(); ++j) {
    size_t more = ctx.args.size() - j - 1;
    if (is(ctx.args[j], "replace")) {
      replace = true;
    } else if (is(ctx.args[j], "absttl")) {
      absttl = true;
    } else if (is(ctx.args[j], "idletime") && more >= 1 && freq == -1) {
      auto v = int_arg(ctx, ctx.args[++j]);
      if (!v) return;
      if (*v < 0) return error(ctx, "ERR Invalid IDLETIME value, must be >= 0");
      idle = *v;
    } else if (is(ctx.args[j], "freq") && more >= 1 && idle == -1) {
      auto v = int_arg(ctx, ctx.args[++j]);
      if (!v) return;
      if (*v < 0 || *v > 255) return error(ctx, "ERR Invalid FREQ value, must be >= 0 and <= 255");
      freq = *v;
    } else {
      return error(ctx, kSyntaxError);
    }
  }
  const int db = ctx.client.db;
  std::string_view key = ctx.args[1];
  bool exists = ks(ctx).lookup_write(db, key, ctx.now_ms) != nullptr;
  if (!replace && exists) return error(ctx, "BUSYKEY Target key name already exists.");
  auto ttl = int_arg(ctx, ctx.args[2]);
  if (!ttl) return;
  if (*ttl < 0) return error(ctx, "ERR Invalid TTL value, must be >= 0");
  persistence::Decoded value;
  switch (persistence::read_payload(ctx.args[3], &value)) {
    case persistence::PayloadStatus::kBadVersionOrChecksum:
      return error(ctx, "ERR DUMP payload version or checksum are wrong");
    case persistence::PayloadStatus::kBadFormat:
      return error(ctx, "ERR Bad data format");
    case persistence::PayloadStatus::kOk:
      break;
  }
  int64_t when = *ttl;
  if (when != 0 && !absttl) {
    if (when > INT64_MAX - ctx.now_ms) return error(ctx, "ERR Bad data format");
    when += ctx.now_ms;
  }
  if (exists) ks(ctx).remove(db, key);
  if (when != 0 && when <= ctx.now_ms) return resp::write_ok(ctx.out);  // already expired
  std::string why;
  if (!persistence::install(ks(ctx), db, key, std::move(value), when, &why))
    return error(ctx, "ERR Bad data format");
  if (idle >= 0) {
    Entry* e = ks(ctx).lookup_write(db, key, ctx.now_ms);
    uint64_t idle_ms = static_cast<uint64_t>(idle) * 1000;
    e->lru = ks(ctx).lru_clock() - static_cast<uint32_t>(idle_ms);
  }
  ks(ctx).signal_modified(db, key);
  resp::write_ok(ctx.out);
}

}  // namespace

void register_persistence_commands(HandlerRegistry& r) {
  r.add("save", save);
  r.add("bgsave", bgsave);
  r.add("lastsave", lastsave);
  r.add("shutdown", shutdown);
  r.add("dump", dump);
  r.add("restore", restore);
}

}  // namespace tiercache::l2
